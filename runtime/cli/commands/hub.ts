// `fleet hub`: run the hub in the foreground; `fleet status`: local state and the hub's view.
import { create } from "@bufbuild/protobuf";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MessageType } from "../../../generated/proto/fleet/v1/envelope_pb.js";
import { ApplicationPayloadSchema } from "../../../generated/proto/fleet/v1/payload_pb.js";
import { applicationValue } from "../../client/draft.js";
import { asFleetError, ErrorCode, FleetError } from "../../errors.js";
import { HUB_OP_MEDIA_TYPE } from "../../hub/hub-requests.js";
import { HUB_DEFAULT_PORT } from "../../hub/options.js";
import { startHub } from "../../hub/start.js";
import { type Command, str } from "../command.js";
import { hubAddress, connectFor } from "../connect.js";
import { HUB_BRIDGE_OPTIONS, HUB_BRIDGE_USAGE, startHubBridges } from "../hub-bridges.js";
import { ensureHome, readConfig, updateConfig } from "../home.js";
import { keystore, loadOrCreateIdentity } from "../identities.js";

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `--${name} must be a non-negative number`);
  return n;
}

function wsOrigins(v: string | undefined): string[] | "*" | undefined {
  if (v === undefined) return undefined;
  return v.trim() === "*" ? "*" : v.split(",").map((o) => o.trim()).filter(Boolean);
}

/** --history-max N and --history-days D: the bounds of the hub's history (hub/history.ts). */
function historyOptions(ctx: Parameters<NonNullable<Command["run"]>>[0]) {
  const max = num(str(ctx, "history-max"), "history-max");
  const days = num(str(ctx, "history-days"), "history-days");
  if (max !== undefined && !Number.isInteger(max)) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "--history-max must be a whole number");
  if (days !== undefined && days <= 0) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "--history-days must be positive");
  return { maxMessages: max, maxAgeMs: days === undefined ? undefined : days * 86_400_000 };
}

export const hub: Command = {
  name: "hub",
  summary: "run the local hub (127.0.0.1, framed TCP; state in FLEET_HOME/hub)",
  usage: `fleet hub [--port N (default 7420, 0 = ephemeral)] [--ws-port N (WebSocket for browsers, e.g. 7421)] [--ws-origin ORIGIN,... (besides loopback pages; * = any)] [--host ADDR] [--tls-cert PEM --tls-key PEM (TLS on the TCP listener; required off loopback)] [--insecure (plain TCP off loopback)] [--verify none|all] [--rate MSG_PER_S] [--burst N] [--max-frame BYTES] [--idle-ms MS] [--max-queue BYTES] [--max-handshake-frame BYTES] [--max-pending N] [--inbox-quota BYTES (per recipient)] [--inbox-total BYTES] [--unknown-quota BYTES (names never admitted)] [--prune-idle-ms MS] [--history-max N (messages kept for threads, default 100000; 0 = no history)] [--history-days D (default 7)] [--require-token (admit only holders of tokens from \`fleet token issue\`)] ${HUB_BRIDGE_USAGE}`,
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
    "history-max": { type: "string" },
    "history-days": { type: "string" },
    ...HUB_BRIDGE_OPTIONS,
  },
  async run(ctx) {
    const home = ensureHome(ctx.home);
    const verify = str(ctx, "verify") ?? "none";
    if (verify !== "none" && verify !== "all") throw new FleetError(ErrorCode.VALIDATION_UNKNOWN_ENUM, "--verify must be none or all");
    const identity = loadOrCreateIdentity(home, "fleet-hub");
    const tlsCert = str(ctx, "tls-cert");
    const tlsKey = str(ctx, "tls-key");
    if ((tlsCert === undefined) !== (tlsKey === undefined)) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "--tls-cert and --tls-key go together");
    const tls = tlsCert && tlsKey ? { cert: readFileSync(tlsCert), key: readFileSync(tlsKey) } : undefined;
    const running = await startHub({
      tls,
      insecure: ctx.values.insecure === true,
      storeDir: join(home, "hub"),
      identity,
      host: str(ctx, "host") ?? "127.0.0.1",
      port: num(str(ctx, "port"), "port") ?? HUB_DEFAULT_PORT,
      wsPort: num(str(ctx, "ws-port"), "ws-port"),
      wsAllowedOrigins: wsOrigins(str(ctx, "ws-origin")),
      verify,
      ratePerSecond: num(str(ctx, "rate"), "rate"),
      rateBurst: num(str(ctx, "burst"), "burst"),
      maxFrameBytes: num(str(ctx, "max-frame"), "max-frame"),
      idleTimeoutMs: num(str(ctx, "idle-ms"), "idle-ms"),
      maxQueueBytes: num(str(ctx, "max-queue"), "max-queue"),
      maxHandshakeFrameBytes: num(str(ctx, "max-handshake-frame"), "max-handshake-frame"),
      maxPendingConnections: num(str(ctx, "max-pending"), "max-pending"),
      inboxBytesPerRecipient: num(str(ctx, "inbox-quota"), "inbox-quota"),
      inboxBytesTotal: num(str(ctx, "inbox-total"), "inbox-total"),
      inboxBytesUnknown: num(str(ctx, "unknown-quota"), "unknown-quota"),
      pruneIdleMs: num(str(ctx, "prune-idle-ms"), "prune-idle-ms"),
      admission: ctx.values["require-token"] ? "token" : "open",
      history: historyOptions(ctx),
    });
    running.hub.log = (line) => {
      ctx.out.line(`hub: ${line}`);
      ctx.out.event({ event: "log", line });
    };
    // Clients in this home find the hub without --hub.
    updateConfig(home, { hub: `${running.host}:${running.port}` });
    ctx.out.line(`fleet hub listening on ${running.url}${running.wsUrl ? ` and ${running.wsUrl}` : ""} as ${identity.agent} (${identity.keyId}); store ${join(home, "hub", "hub.db")}`);
    ctx.out.event({ event: "listening", host: running.host, port: running.port, url: running.url, ws_port: running.wsPort, ws_url: running.wsUrl, key_id: identity.keyId, pid: process.pid });
    let bridges;
    try {
      bridges = await startHubBridges(ctx, home, running, num);
    } catch (e) {
      await running.close();
      throw e;
    }
    await ctx.interrupted;
    await bridges.close();
    await running.close();
    ctx.out.line("fleet hub stopped");
    ctx.out.event({ event: "stopped" });
  },
};

export const status: Command = {
  name: "status",
  summary: "the fleet home (identities, hub address) and, when reachable, the hub's status",
  usage: "fleet status",
  async run(ctx) {
    const cfg = readConfig(ctx.home);
    const agents = keystore(ctx.home).list().filter((a) => a !== "fleet-hub");
    const { host, port } = hubAddress(ctx.home, str(ctx, "hub"));
    ctx.out.line(`home ${ctx.home}`);
    ctx.out.line(`agents ${agents.join(", ") || "(none: run fleet keygen --agent-id NAME)"}${cfg.agent ? `; default ${cfg.agent}` : ""}`);
    let hubStatus: unknown;
    let hubError: string | undefined;
    if (agents.length) {
      try {
        const conn = await connectFor(ctx);
        try {
          const answer = await conn.request({ to: "fleet:hub", type: MessageType.QUERY, sign: false, body: { case: "application", value: create(ApplicationPayloadSchema, { mediaType: HUB_OP_MEDIA_TYPE, content: { case: "json", value: '{"op":"status"}' } }) } });
          hubStatus = applicationValue(answer);
        } finally {
          await conn.close();
        }
      } catch (e) {
        hubError = asFleetError(e, ErrorCode.INTERNAL_ERROR, "status").message;
      }
    }
    const s = hubStatus as { online?: string[]; connections?: number; inbox?: number; uptimeMs?: number } | undefined;
    if (s) ctx.out.line(`hub ${host}:${port} up ${Math.round((s.uptimeMs ?? 0) / 1000)} s; online: ${s.online?.join(", ") || "nobody"}; stored messages waiting: ${s.inbox}`);
    else ctx.out.line(`hub ${host}:${port} ${hubError ? `unreachable: ${hubError}` : "not checked (no identity)"}`);
    ctx.out.result({ ok: true, home: ctx.home, agents, default_agent: cfg.agent, hub: { address: `${host}:${port}`, reachable: Boolean(s), status: s, error: hubError } });
  },
};
