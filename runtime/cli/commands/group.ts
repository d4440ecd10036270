// fleet group create|invite|join|leave|kick|mute|approve|role|transfer|members|policy
// (spec/groups.md): each change is a statement signed by this agent and appended to the hub's
// chain; members and policy fold the chain locally with the signers' keys from the registry, so
// what is printed follows from the signed statements. What the command line itself gets wrong
// (a missing argument, a bad option value, a file that is not an invite) is a usage error (exit
// 2, no protocol code); what the hub or the fold refuses keeps its protocol code.
import { existsSync, readFileSync } from "node:fs";
import { fromBinary } from "@bufbuild/protobuf";
import { GroupRole, GroupSendPolicy } from "../../../generated/proto/fleet/v1/group_pb.js";
import { TokenClaimsSchema, TokenSchema } from "../../../generated/proto/fleet/v1/token_pb.js";
import { appendStatement, fetchChain, groupChainsOf } from "../../client/groups.js";
import type { FleetConnection } from "../../client/connection.js";
import { fromBase64Url } from "../../crypto/bytes.js";
import type { Identity } from "../../crypto/identity.js";
import { TOKEN_PREFIX } from "../../crypto/token.js";
import { ErrorCode, FleetError, isFleetError } from "../../errors.js";
import { groupStateJson } from "../../hub/group-ops.js";
import { foldGroup, issueInvite, KeyHistory, signGroupStatement, type GroupState, type StatementInit } from "../../protocol/groups/index.js";
import { usageError } from "../cli-error.js";
import { type Command, type CommandContext, numberOption, required, str } from "../command.js";
import { connectFor } from "../connect.js";
import { writeOutput } from "../home.js";
import { loadIdentity } from "../identities.js";

type Conn = FleetConnection & { queryRegistry(q: { agentId?: string }): Promise<{ agents: { agentId: string; publicKey: Uint8Array }[] }> };

function readInvite(path: string): string {
  if (!existsSync(path)) throw usageError(`${path} is neither an invite (${TOKEN_PREFIX}...) nor a file (see fleet group join --help)`);
  return readFileSync(path, "utf8").trim();
}

/** "90", "90s", "30m", "2h", "1d" -> ms (a usage error otherwise). */
export function parseDuration(text: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m || Number(m[1]) === 0) throw usageError(`--ttl must be a duration such as 90s, 30m, 2h, 1d, got ${JSON.stringify(text)}`);
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
  throw usageError(`--send must be members or admins, got ${JSON.stringify(text)}`);
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
  usage: "fleet group create|invite|join|leave|kick|mute|approve|role|transfer|members|policy ...",
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
      summary: "print an invite to a group you administer: pasteable fleet1. text for fleet group join (a bearer capability: whoever holds it may join, within its uses and lifetime)",
      usage: "fleet group invite NAME [--uses N (0 = unlimited)] [--ttl 1d] [--holder AGENT|KEY_ID] [--out FILE (0600, instead of printing)]",
      options: { out: { type: "string" }, uses: { type: "string" }, ttl: { type: "string" }, holder: { type: "string" } },
      async run(ctx) {
        const name = required(ctx, 0, "NAME");
        const uses = numberOption(ctx, "uses", { integer: true, max: 0xffffffff, what: "0 = unlimited" }) ?? 0;
        const ttlMs = parseDuration(str(ctx, "ttl") ?? "1d");
        const out = str(ctx, "out");
        const id = loadIdentity(ctx.home, str(ctx, "agent"));
        const invite = issueInvite(name, id, { uses, ttlMs, holder: str(ctx, "holder") });
        const what = `invite to ${name} (${uses || "unlimited"} use${uses === 1 ? "" : "s"}, ${str(ctx, "ttl") ?? "1d"})`;
        if (out) {
          writeOutput(out, invite + "\n", 0o600);
          ctx.out.line(`${what} written to ${out}; pass it to fleet group join`);
        } else {
          // Asked for: the one place an invite reaches stdout unredacted (the hub and MCP never echo it).
          ctx.out.secret("invite", invite);
        }
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
        if (!invite.startsWith(TOKEN_PREFIX)) throw usageError(`an invite starts with ${TOKEN_PREFIX} (see fleet group join --help)`);
        // The group is the invite's audience; the hub's fold verifies the invite itself.
        let audience: string;
        try {
          const token = fromBinary(TokenSchema, fromBase64Url(invite.slice(TOKEN_PREFIX.length), ErrorCode.SECURITY_SIGNATURE_INVALID));
          audience = fromBinary(TokenClaimsSchema, token.claims).audience;
        } catch {
          throw usageError("the invite is not readable: paste all of its fleet1. text");
        }
        if (!audience.startsWith("group:")) throw usageError(`not a group invite (its audience is ${audience})`);
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
      name: "approve",
      summary: "admit an agent waiting for approval, or add one directly (admins)",
      usage: "fleet group approve NAME AGENT",
      async run(ctx) {
        const [name, agent] = [required(ctx, 0, "NAME"), required(ctx, 1, "AGENT")];
        await state(ctx, name, { case: "approve", value: { agent } }, `${agent} approved in ${name}`);
      },
    },
    {
      name: "role",
      summary: "make a member an admin, or an admin a member (the owner)",
      usage: "fleet group role NAME AGENT admin|member",
      async run(ctx) {
        const [name, agent, text] = [required(ctx, 0, "NAME"), required(ctx, 1, "AGENT"), required(ctx, 2, "ROLE")];
        const role = { admin: GroupRole.ADMIN, member: GroupRole.MEMBER }[text];
        if (role === undefined) throw usageError(`ROLE must be admin or member, got ${JSON.stringify(text)} (ownership moves with fleet group transfer)`);
        await state(ctx, name, { case: "setRole", value: { agent, role } }, `${agent} is now ${text} of ${name}`);
      },
    },
    {
      name: "transfer",
      summary: "hand ownership to a member; you become an admin (the owner)",
      usage: "fleet group transfer NAME AGENT",
      async run(ctx) {
        const [name, agent] = [required(ctx, 0, "NAME"), required(ctx, 1, "AGENT")];
        await state(ctx, name, { case: "transfer", value: { agent } }, `${agent} now owns ${name}`);
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
        if (approval !== undefined && approval !== "on" && approval !== "off") throw usageError(`--approval must be on or off, got ${JSON.stringify(approval)}`);
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
