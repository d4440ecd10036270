// What the swarm bridge must remember across restarts (agent-swarm's own server keeps none
// of it enforced): swarms, their members (agent_id bound to its first key), and how often
// each invite token was used. JSON, 0600. Bounded: MAX_SWARMS, MAX_MEMBERS per swarm,
// MAX_TOKENS remembered tokens (full = joins refused with 503).
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";

export const MAX_SWARMS = 100;
export const MAX_MEMBERS = 1_000;
export const MAX_TOKENS = 10_000;

export interface Member {
  agent_id: string;
  endpoint: string;
  public_key: string;
  joined_at: string;
}

export interface Swarm {
  swarm_id: string;
  name: string;
  group: string;
  members: Record<string, Member>;
  uses: Record<string, number>;
}

export class SwarmState {
  swarms: Record<string, Swarm> = {};

  constructor(private readonly file?: string) {
    if (file && existsSync(file)) this.swarms = JSON.parse(readFileSync(file, "utf8")) as Record<string, Swarm>;
  }

  byName(name: string): Swarm | undefined {
    return Object.values(this.swarms).find((s) => s.name === name);
  }

  tokenCount(): number {
    return Object.values(this.swarms).reduce((n, s) => n + Object.keys(s.uses).length, 0);
  }

  save(): void {
    if (!this.file) return;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.swarms), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
