// fleet group create|invite|join|leave|kick|mute|members|policy (spec/groups.md): each change is
// a statement signed by this agent and appended to the hub's chain; members and policy fold the
// chain locally with the signers' keys from the registry, so what is printed follows from the
// signed statements.
import { existsSync, readFileSync } from "node:fs";
import { fromBinary } from "@bufbuild/protobuf";
import { GroupSendPolicy } from "../../../generated/proto/fleet/v1/group_pb.js";
import { TokenClaimsSchema, TokenSchema } from "../../../generated/proto/fleet/v1/token_pb.js";
import { appendStatement, fetchChain, groupChainsOf } from "../../client/groups.js";
import type { FleetConnection } from "../../client/connection.js";
import { fromBase64Url } from "../../crypto/bytes.js";
import type { Identity } from "../../crypto/identity.js";
import { TOKEN_PREFIX } from "../../crypto/token.js";
import { ErrorCode, FleetError, isFleetError } from "../../errors.js";
import { groupStateJson } from "../../hub/group-ops.js";
import { foldGroup, issueInvite, KeyHistory, signGroupStatement, type GroupState, type StatementInit } from "../../protocol/groups/index.js";
import { type Command, type CommandContext, required, str } from "../command.js";
import { connectFor } from "../connect.js";
import { writeOutput } from "../home.js";
import { loadIdentity } from "../identities.js";

type Conn = FleetConnection & { queryRegistry(q: { agentId?: string }): Promise<{ agents: { agentId: string; publicKey: Uint8Array }[] }> };

function readInvite(path: string): string {
  if (!existsSync(path)) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, `${path} is neither an invite (${TOKEN_PREFIX}...) nor a file`);
  return readFileSync(path, "utf8").trim();
}

/** "90", "90s", "30m", "2h", "1d" -> ms. */
export function parseDuration(text: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m) throw new FleetError(ErrorCode.VALIDATION_WRONG_TYPE, `not a duration: ${text} (e.g. 90s, 30m, 2h, 1d)`, { pointer: "/ttl" });
  return Number(m[1]) * { "": 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "" | "s" | "m" | "h" | "d"];
}

/** The group's chain folded here, with every signer's key from the registry. */
async function fold(conn: Conn, group: string): Promise<GroupState | undefined> {
  // A binding that folds chains itself (NATS) does; on a hub the registry lists every signer's key.
  const store = groupChainsOf(conn);
  if (store.foldGroupChain) return store.foldGroupChain(group);
  let chain: Uint8Array[];
  try {
    chain = await fetchChain(conn, group);
  } catch (e) {
    if (isFleetError(e, ErrorCode.REGISTRY_AGENT_NOT_FOUND)) return undefined;
    throw e;
  }
  const keys = new KeyHistory();
  for (const a of (await conn.queryRegistry({})).agents) if (a.publicKey.length) keys.add(a.agentId, a.publicKey);
  return foldGroup(chain, keys);
}

async function withConn<T>(ctx: CommandContext, fn: (conn: Conn, id: Identity) => Promise<T>): Promise<T> {
  const id = loadIdentity(ctx.home, str(ctx, "agent"));
  const conn = (await connectFor(ctx, { agent: id.agent })) as unknown as Conn;
  try {
    return await fn(conn, id);
  } finally {
    await conn.close();
  }
}

/** Signs the statement that follows the chain's head and appends it; prints the new state. */
async function state(ctx: CommandContext, group: string, action: StatementInit["action"], said: string): Promise<void> {
  await withConn(ctx, async (conn, id) => {
    const head = await fold(conn, group);
    if (!head && action?.case !== "create") throw new FleetError(ErrorCode.REGISTRY_AGENT_NOT_FOUND, `no group ${group} on this hub`);
    const bytes = signGroupStatement({ group, seq: (head?.seq ?? 0n) + 1n, prev: head?.head ?? new Uint8Array(), at: Date.now(), action }, id);
    const result = await appendStatement(conn, bytes);
    ctx.out.line(said);
    ctx.out.result({ ok: true, ...result });
  });
}

const sendPolicy = (text: string | undefined, fallback: GroupSendPolicy) => {
  if (text === undefined) return fallback;
  if (text === "members") return GroupSendPolicy.MEMBERS;
  if (text === "admins") return GroupSendPolicy.ADMINS;
  throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "--send is members or admins", { pointer: "/send" });
};

function printState(ctx: CommandContext, s: GroupState): void {
  const j = groupStateJson(s);
  ctx.out.line(`group ${j.group} (owner ${j.owner}; ${j.policy.send} send${j.policy.join_approval ? "; joins need approval" : ""}; statement ${j.seq})`);
  for (const m of j.members) ctx.out.line(`  ${m.agent}  ${m.role}${m.muted ? "  muted" : ""}`);
  for (const p of j.pending) ctx.out.line(`  ${p}  pending`);
  ctx.out.result({ ok: true, ...j });
}

export const group: Command = {
  name: "group",
  summary: "groups with owners, invites, roles and policy (signed statements the hub enforces)",
  usage: "fleet group create|invite|join|leave|kick|mute|members|policy ...",
  sub: [
    {
      name: "create",
      summary: "create a group you own",
      usage: "fleet group create NAME [--send members|admins] [--approval]",
      options: { send: { type: "string" }, approval: { type: "boolean" } },
      async run(ctx) {
        const name = required(ctx, 0, "NAME");
        const policy = { send: sendPolicy(str(ctx, "send"), GroupSendPolicy.MEMBERS), joinApproval: ctx.values.approval === true };
        await state(ctx, name, { case: "create", value: { policy } }, `group ${name} created`);
      },
    },
    {
      name: "invite",
      summary: "write an invite (pasteable fleet1. text) to a group you administer to FILE (0600; invites are bearer secrets, never printed)",
      usage: "fleet group invite NAME --out FILE [--uses N (0 = unlimited)] [--ttl 1d] [--holder AGENT|KEY_ID]",
      options: { out: { type: "string" }, uses: { type: "string" }, ttl: { type: "string" }, holder: { type: "string" } },
      async run(ctx) {
        const name = required(ctx, 0, "NAME");
        const out = str(ctx, "out");
        if (!out) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "--out FILE is required (invites are never printed)", { pointer: "/out" });
        const id = loadIdentity(ctx.home, str(ctx, "agent"));
        const uses = Number(str(ctx, "uses") ?? 0);
        if (!Number.isInteger(uses) || uses < 0 || uses > 0xffffffff) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "--uses is a whole number", { pointer: "/uses" });
        const ttlMs = parseDuration(str(ctx, "ttl") ?? "1d");
        const invite = issueInvite(name, id, { uses, ttlMs, holder: str(ctx, "holder") });
        writeOutput(out, invite + "\n", 0o600);
        ctx.out.line(`invite to ${name} (${uses || "unlimited"} use${uses === 1 ? "" : "s"}) written to ${out}; pass it to fleet group join`);
        ctx.out.result({ ok: true, group: name, file: out, uses, expires_in_ms: ttlMs });
      },
    },
    {
      name: "join",
      summary: "join a group with an invite (its text, or a file holding it)",
      usage: "fleet group join INVITE|FILE",
      async run(ctx) {
        const given = required(ctx, 0, "INVITE");
        const invite = given.startsWith(TOKEN_PREFIX) ? given : readInvite(given);
        if (!invite.startsWith(TOKEN_PREFIX)) throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, `an invite starts with ${TOKEN_PREFIX}`);
        // The group is the invite's audience; the hub's fold verifies the invite itself.
        const token = fromBinary(TokenSchema, fromBase64Url(invite.slice(TOKEN_PREFIX.length), ErrorCode.SECURITY_SIGNATURE_INVALID));
        const audience = fromBinary(TokenClaimsSchema, token.claims).audience;
        if (!audience.startsWith("group:")) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `not a group invite (audience ${audience})`, { pointer: "/audience" });
        const name = audience.slice("group:".length);
        await state(ctx, name, { case: "join", value: { invite } }, `joined ${name}`);
      },
    },
    {
      name: "leave",
      summary: "leave a group",
      usage: "fleet group leave NAME",
      async run(ctx) {
        const name = required(ctx, 0, "NAME");
        await state(ctx, name, { case: "leave", value: { reason: "" } }, `left ${name}`);
      },
    },
    {
      name: "kick",
      summary: "remove a member (admins)",
      usage: "fleet group kick NAME AGENT",
      async run(ctx) {
        const [name, agent] = [required(ctx, 0, "NAME"), required(ctx, 1, "AGENT")];
        await state(ctx, name, { case: "kick", value: { agent } }, `${agent} removed from ${name}`);
      },
    },
    {
      name: "mute",
      summary: "mute (or --unmute) a member (admins)",
      usage: "fleet group mute NAME AGENT [--unmute]",
      options: { unmute: { type: "boolean" } },
      async run(ctx) {
        const [name, agent] = [required(ctx, 0, "NAME"), required(ctx, 1, "AGENT")];
        const muted = ctx.values.unmute !== true;
        await state(ctx, name, { case: "mute", value: { agent, muted } }, `${agent} ${muted ? "muted" : "unmuted"} in ${name}`);
      },
    },
    {
      name: "members",
      summary: "members, roles and policy, folded here from the signed statements",
      usage: "fleet group members NAME",
      async run(ctx) {
        const name = required(ctx, 0, "NAME");
        await withConn(ctx, async (conn) => {
          const s = await fold(conn, name);
          if (!s) throw new FleetError(ErrorCode.REGISTRY_AGENT_NOT_FOUND, `no group ${name} on this hub`);
          printState(ctx, s);
        });
      },
    },
    {
      name: "policy",
      summary: "show, or change (admins), who may send and whether joins need approval",
      usage: "fleet group policy NAME [--send members|admins] [--approval on|off]",
      options: { send: { type: "string" }, approval: { type: "string" } },
      async run(ctx) {
        const name = required(ctx, 0, "NAME");
        const send = str(ctx, "send");
        const approval = str(ctx, "approval");
        if (send === undefined && approval === undefined) {
          await withConn(ctx, async (conn) => {
            const s = await fold(conn, name);
            if (!s) throw new FleetError(ErrorCode.REGISTRY_AGENT_NOT_FOUND, `no group ${name} on this hub`);
            printState(ctx, s);
          });
          return;
        }
        if (approval !== undefined && approval !== "on" && approval !== "off") throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "--approval is on or off", { pointer: "/approval" });
        await withConn(ctx, async (conn) => {
          const s = await fold(conn, name);
          if (!s) throw new FleetError(ErrorCode.REGISTRY_AGENT_NOT_FOUND, `no group ${name} on this hub`);
          const policy = { send: sendPolicy(send, s.policy.send), joinApproval: approval === undefined ? s.policy.joinApproval : approval === "on" };
          const id = loadIdentity(ctx.home, str(ctx, "agent"));
          const bytes = signGroupStatement({ group: name, seq: s.seq + 1n, prev: s.head, at: Date.now(), action: { case: "setPolicy", value: { policy } } }, id);
          const result = await appendStatement(conn, bytes);
          ctx.out.line(`${name}: ${result.policy.send} send${result.policy.join_approval ? ", joins need approval" : ""}`);
          ctx.out.result({ ok: true, ...result });
        });
      },
    },
  ],
};
