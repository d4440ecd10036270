// `fleet hub`: run the hub in the foreground; `fleet status`: local state and the hub's view.
import { create } from "@bufbuild/protobuf";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MessageType } from "../../../generated/proto/fleet/v1/envelope_pb.js";
import { ApplicationPayloadSchema } from "../../../generated/proto/fleet/v1/payload_pb.js";
import { applicationValue } from "../../client/draft.js";
import { asFleetError, ErrorCode } from "../../errors.js";
import { HUB_OP_MEDIA_TYPE } from "../../hub/hub-requests.js";
import { HUB_DEFAULT_PORT } from "../../hub/options.js";
import { startHub } from "../../hub/start.js";
import { CliError, usageError } from "../cli-error.js";
import { type Command, numberOption, str } from "../command.js";
import { hubAddress, connectFor, natsUrl } from "../connect.js";
import { pingBody } from "../../client/bodies.js";
import { HUB_BRIDGE_OPTIONS, HUB_BRIDGE_USAGE, startHubBridges } from "../hub-bridges.js";
import { ensureHome, readConfig, updateConfig } from "../home.js";
import { keystore, loadOrCreateIdentity } from "../identities.js";
import { readCapabilityPolicy } from "./capability.js";


function wsOrigins(v: string | undefined): string[] | "*" | undefined {
  if (v === undefined) return undefined;
  return v.trim() === "*" ? "*" : v.split(",").map((o) => o.trim()).filter(Boolean);
}

/** The level of one hub log line: refusals are warnings, storage failures errors. */
export function logLevel(line: string): "info" | "warn" | "error" {
  if (/^(store failed|registry write failed|sweep failed|dropping undeliverable)/.test(line)) return "error";
  if (/^(close |registry entry .* refused)/.test(line)) return "warn";
  return "info";
}

/** --history-max N and --history-days D: the bounds of the hub's history (hub/history.ts). */
function historyOptions(ctx: Parameters<NonNullable<Command["run"]>>[0]) {
  const max = numberOption(ctx, "history-max", { integer: true });
  const days = numberOption(ctx, "history-days");
  if (max !== undefined && !Number.isInteger(max)) throw usageError("--history-max must be a whole number");
  if (days !== undefined && days <= 0) throw usageError("--history-days must be positive");
  return { maxMessages: max, maxAgeMs: days === undefined ? undefined : days * 86_400_000 };
}

export const hub: Command = {
  name: "hub",
  summary: "run the local hub (127.0.0.1, framed TCP; state in FLEET_HOME/hub)",
  usage: `fleet hub [--port N (default 7420, 0 = ephemeral)] [--ws-port N (WebSocket for browsers, e.g. 7421)] [--ws-origin ORIGIN,... (besides loopback pages; * = any)] [--host ADDR] [--tls-cert PEM --tls-key PEM (TLS on the TCP listener; required off loopback)] [--insecure (plain TCP off loopback)] [--verify none|all] [--rate MSG_PER_S] [--burst N] [--max-frame BYTES] [--idle-ms MS] [--max-queue BYTES] [--max-handshake-frame BYTES] [--max-pending N] [--inbox-quota BYTES (per recipient)] [--inbox-total BYTES] [--unknown-quota BYTES (names never admitted)] [--prune-idle-ms MS] [--history-max N (messages kept for threads, default 100000; 0 = no history)] [--history-days D (default 7)] [--require-token (admit only holders of tokens from \`fleet token issue\`)] [--capability-policy FILE (granted capabilities and their authorities)] ${HUB_BRIDGE_USAGE}`,
  options: {
    port: { type: "string" },
    "ws-port": { type: "string" },
    "ws-origin": { type: "string" },
    host: { type: "string" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    insecure: { type: "boolean" },
    verify: { type: "string" },
    rate: { type: "string" },
    burst: { type: "string" },
    "max-frame": { type: "string" },
    "idle-ms": { type: "string" },
    "max-queue": { type: "string" },
    "max-handshake-frame": { type: "string" },
    "max-pending": { type: "string" },
    "inbox-quota": { type: "string" },
    "inbox-total": { type: "string" },
    "unknown-quota": { type: "string" },
    "prune-idle-ms": { type: "string" },
    "require-token": { type: "boolean" },
    "capability-policy": { type: "string" },
    "history-max": { type: "string" },
    "history-days": { type: "string" },
    ...HUB_BRIDGE_OPTIONS,
  },
  async run(ctx) {
    const home = ensureHome(ctx.home);
    const verify = str(ctx, "verify") ?? "none";
    if (verify !== "none" && verify !== "all") throw usageError(`--verify must be none or all, got ${JSON.stringify(verify)}`);
    const port = numberOption(ctx, "port", { integer: true, max: 65_535 }) ?? HUB_DEFAULT_PORT;
    const identity = loadOrCreateIdentity(home, "fleet-hub");
    const tlsCert = str(ctx, "tls-cert");
    const tlsKey = str(ctx, "tls-key");
    if ((tlsCert === undefined) !== (tlsKey === undefined)) throw usageError("--tls-cert and --tls-key go together");
    const tls = tlsCert && tlsKey ? { cert: readFileSync(tlsCert), key: readFileSync(tlsKey) } : undefined;
    const running = await startHub({
      tls,
      insecure: ctx.values.insecure === true,
      storeDir: join(home, "hub"),
      identity,
      host: str(ctx, "host") ?? "127.0.0.1",
      port,
      wsPort: numberOption(ctx, "ws-port", { integer: true, max: 65_535 }),
      wsAllowedOrigins: wsOrigins(str(ctx, "ws-origin")),
      verify,
      ratePerSecond: numberOption(ctx, "rate"),
      rateBurst: numberOption(ctx, "burst"),
      maxFrameBytes: numberOption(ctx, "max-frame", { integer: true }),
      idleTimeoutMs: numberOption(ctx, "idle-ms"),
      maxQueueBytes: numberOption(ctx, "max-queue", { integer: true }),
      maxHandshakeFrameBytes: numberOption(ctx, "max-handshake-frame", { integer: true }),
      maxPendingConnections: numberOption(ctx, "max-pending", { integer: true }),
      inboxBytesPerRecipient: numberOption(ctx, "inbox-quota", { integer: true }),
      inboxBytesTotal: numberOption(ctx, "inbox-total", { integer: true }),
      inboxBytesUnknown: numberOption(ctx, "unknown-quota", { integer: true }),
      pruneIdleMs: numberOption(ctx, "prune-idle-ms"),
      admission: ctx.values["require-token"] ? "token" : "open",
      capabilityPolicy: str(ctx, "capability-policy") === undefined ? undefined : readCapabilityPolicy(str(ctx, "capability-policy")!),
      history: historyOptions(ctx),
    }).catch((e: unknown) => {
      if (/EADDRINUSE/.test(String((e as Error)?.message))) throw new CliError(`port ${port} is in use (another hub? \`fleet hub --port N\` picks another, --port 0 any free one)`);
      throw e;
    });
    running.hub.log = (line) => {
      const time = new Date().toISOString();
      const level = logLevel(line);
      ctx.out.line(`${time} ${level.padEnd(5)} hub: ${line}`);
      ctx.out.event({ event: "log", time, level, line });
    };
    // Clients in this home find the hub without --hub: only a hub on a port the user chose
    // is written there (an ephemeral --port 0 one would leave a dead address behind).
    if (port !== 0) updateConfig(home, { hub: `${running.host}:${running.port}`, hubPid: process.pid });
    const when = () => `${new Date().toISOString()} info  `;
    ctx.out.line(`${when()}fleet hub listening on ${running.url}${running.wsUrl ? ` and ${running.wsUrl}` : ""} as ${identity.agent} (${identity.keyId}); store ${join(home, "hub", "hub.db")}`);
    ctx.out.event({ event: "listening", host: running.host, port: running.port, url: running.url, ws_port: running.wsPort, ws_url: running.wsUrl, key_id: identity.keyId, pid: process.pid });
    let bridges;
    try {
      // Bridges read their numeric options through the same validation (usage error on bad input).
      bridges = await startHubBridges(ctx, home, running, (_v, name) => numberOption(ctx, name, { integer: true }));
    } catch (e) {
      await running.close();
      throw e;
    }
    await ctx.interrupted;
    await bridges.close();
    await running.close();
    ctx.out.line(`${when()}fleet hub stopped`);
    ctx.out.event({ event: "stopped" });
  },
};

export const status: Command = {
  name: "status",
  summary: "the fleet home (identities, hub address) and, when reachable, the hub's status",
  usage: "fleet status (with --nats: the NATS server instead of a hub)",
  async run(ctx) {
    const cfg = readConfig(ctx.home);
    const agents = keystore(ctx.home).list().filter((a) => a !== "fleet-hub");
    const nats = natsUrl(ctx.home, str(ctx, "hub"));
    const { host, port } = hubAddress(ctx.home, str(ctx, "hub"));
    const where = nats ? `nats ${nats}` : `hub ${host}:${port}`;
    ctx.out.line(`home ${ctx.home}`);
    ctx.out.line(`agents ${agents.join(", ") || "(none: run fleet keygen --agent-id NAME)"}${cfg.agent ? `; default ${cfg.agent}` : ""}`);
    let hubStatus: unknown;
    let hubError: string | undefined;
    if (agents.length) {
      try {
        const conn = await connectFor(ctx);
        try {
          if (nats) {
            // No hub on NATS: a round trip to the server (and this agent's inbox) is the check.
            const t0 = performance.now();
            await conn.request({ to: "fleet:hub", type: MessageType.QUERY, body: pingBody() }, 5_000);
            hubStatus = { rttMs: Number((performance.now() - t0).toFixed(2)) };
          } else {
            const answer = await conn.request({ to: "fleet:hub", type: MessageType.QUERY, sign: false, body: { case: "application", value: create(ApplicationPayloadSchema, { mediaType: HUB_OP_MEDIA_TYPE, content: { case: "json", value: '{"op":"status"}' } }) } });
            hubStatus = applicationValue(answer);
          }
        } finally {
          await conn.close();
        }
      } catch (e) {
        hubError = asFleetError(e, ErrorCode.INTERNAL_ERROR, "status").message;
      }
    }
    const s = hubStatus as { online?: string[]; connections?: number; inbox?: number; uptimeMs?: number; rttMs?: number } | undefined;
    if (s && nats) ctx.out.line(`${where} reachable; round trip ${s.rttMs} ms`);
    else if (s) ctx.out.line(`${where} up ${Math.round((s.uptimeMs ?? 0) / 1000)} s; online: ${s.online?.join(", ") || "nobody"}; stored messages waiting: ${s.inbox}`);
    else ctx.out.line(`${where} ${hubError ? `unreachable: ${hubError}` : "not checked (no identity)"}`);
    const check = { reachable: Boolean(s), status: s, error: hubError };
    ctx.out.result({ ok: true, home: ctx.home, agents, default_agent: cfg.agent, ...(nats ? { nats: { url: nats, ...check } } : { hub: { address: `${host}:${port}`, ...check } }) });
  },
};
