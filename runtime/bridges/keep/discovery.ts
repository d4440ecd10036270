// Answers to keep's `discover:<q>` requests (spec/bridges/keep.md): info, agents, stats;
// anything else gets the exact text `error:unknown_discovery`.

/** The keep server version whose wire behaviour the bridge reproduces. */
export const KEEP_COMPAT_VERSION = "0.5.0";
/** scar_exchanges holds at most this many names (as keep's server). */
export const KEEP_SCAR_NAMES_LIMIT = 1_000;

export class KeepStats {
  totalPackets = 0;
  readonly scarExchanges = new Map<string, number>();

  countVerified(src: string, hasScar: boolean): void {
    this.totalPackets++;
    if (!hasScar || !src) return;
    const n = this.scarExchanges.get(src);
    if (n !== undefined) this.scarExchanges.set(src, n + 1);
    else if (this.scarExchanges.size < KEEP_SCAR_NAMES_LIMIT) this.scarExchanges.set(src, 1);
  }
}

export interface DiscoveryView {
  startedAt: number;
  now: number;
  /** keep names bound now. */
  keepNames: string[];
  /** Fleet agents online now (as keep clients may address them). */
  fleetAgents: string[];
  stats: KeepStats;
}

export function discoveryBody(query: string, v: DiscoveryView): string {
  switch (query) {
    case "info":
      return JSON.stringify({ version: KEEP_COMPAT_VERSION, agents_online: v.keepNames.length + v.fleetAgents.length, uptime_sec: Math.floor((v.now - v.startedAt) / 1000) });
    case "agents":
      return JSON.stringify({ agents: [...v.keepNames, ...v.fleetAgents] });
    case "stats":
      return JSON.stringify({ scar_exchanges: Object.fromEntries(v.stats.scarExchanges), total_packets: v.stats.totalPackets });
    default:
      return "error:unknown_discovery";
  }
}
