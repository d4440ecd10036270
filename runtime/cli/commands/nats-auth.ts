// `fleet nats auth`: writes the nats-server authorization of a NATS fleet (spec/nats-auth.md)
// and reloads the server. Who exists and with which key: this home's identities and its pinned
// peers (peers.json), the operator's view of the fleet (a newcomer must be known before it can
// log in at all, so the registry, which it joins only once logged in, cannot be the source).
// The identity acting (--agent, else config.json's agent) is the admin user. Group membership:
// every chain stored in FLEET_GROUPS (with a NATS URL: --nats, $FLEET_NATS, config.json's
// "nats"), and chains given with --chain (the hub's `group.chain` answer), which stand for their
// group; all folded with those keys. With the URL the admin first logs in to apply FLEET_KEYS
// (rotated keys follow, revoked ones are dropped) and read FLEET_GROUPS, and after writing and
// reloading makes the streams and every agent's durable consumers.
// Granted capabilities (spec/capabilities.md "On NATS"): with --capability-policy FILE, each
// granted capability's subject may be subscribed to only by the agents a --grant names (checked
// against the policy and the agents' current keys).
// Membership changes, new or expired grants: run it again (it rewrites the file and reloads the server).
import { readFileSync } from "node:fs";
import { connect } from "nats";
import type { Identity } from "../../crypto/identity.js";
import { asFleetError, ErrorCode, FleetError } from "../../errors.js";
import { buildAuthorization, foldChains, renderAuthorization, type AuthAgent, type GroupChain } from "../../nats/authorization.js";
import { provisionAgents } from "../../nats/jetstream.js";
import { followKeys, type FollowedKeys } from "../../nats/key-follow.js";
import { keyIdFor } from "../../crypto/keyid.js";
import { identityAuthenticator } from "../../nats/nkey.js";
import { replyPrefix } from "../../nats/subjects.js";
import { grantHolders } from "../../nats/grants.js";
import { grantsOption, readCapabilityPolicy } from "./capability.js";
import { usageError } from "../cli-error.js";
import { type Command, type CommandContext, list, str } from "../command.js";
import { natsUrl } from "../connect.js";
import { writeOutput } from "../home.js";
import { keystore, loadIdentity } from "../identities.js";
import { filePinStore } from "../peers.js";

/** Every agent this home knows: its own identities, then pinned peers not among them. */
function knownAgents(home: string, admin: Identity): AuthAgent[] {
  const byName = new Map<string, AuthAgent>();
  const ks = keystore(home);
  for (const name of ks.list()) if (name !== admin.agent) byName.set(name, { agent: name, publicKey: ks.load(name).publicKey });
  for (const pin of filePinStore(home).load()) if (pin.agent !== admin.agent && !byName.has(pin.agent)) byName.set(pin.agent, { agent: pin.agent, publicKey: pin.publicKey });
  return [...byName.values()];
}

function readChain(path: string): GroupChain {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw asFleetError(e, ErrorCode.WIRE_MALFORMED, `--chain ${path}`);
  }
  const c = doc as Partial<GroupChain>;
  if (typeof c?.group !== "string" || !Array.isArray(c.statements) || !c.statements.every((s) => typeof s === "string")) {
    throw new FleetError(ErrorCode.VALIDATION_WRONG_TYPE, `--chain ${path}: expected {"group": NAME, "statements": [base64url, ...]} (the hub's group.chain answer)`);
  }
  return { group: c.group, statements: c.statements as string[] };
}

/** A pid, or a file holding one (nats-server's pid_file). */
function pidOf(text: string): number {
  let raw = text;
  if (!/^\d+$/.test(text)) {
    try {
      raw = readFileSync(text, "utf8").trim();
    } catch (e) {
      throw asFleetError(e, ErrorCode.VALIDATION_OUT_OF_RANGE, `--reload ${text}`);
    }
  }
  const pid = Number(raw);
  if (!Number.isInteger(pid) || pid <= 1) throw usageError(`--reload takes a nats-server pid or pid file, got ${JSON.stringify(text)}`);
  return pid;
}

/** SIGHUP: nats-server reads its config again (what `nats-server --signal reload=PID` sends). */
function reload(pid: number): void {
  try {
    process.kill(pid, "SIGHUP");
  } catch (e) {
    throw new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `cannot signal nats-server pid ${pid}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** Most attempts at the admin login while a reload takes effect (250 ms apart). */
const LOGIN_ATTEMPTS = 40;

async function provision(url: string, admin: Identity, agents: string[]): Promise<void> {
  let lastError: unknown;
  for (let attempt = 0; attempt < LOGIN_ATTEMPTS; attempt++) {
    try {
      const nc = await connect({ servers: url, authenticator: identityAuthenticator(() => admin), inboxPrefix: await replyPrefix(admin.agent), reconnect: false });
      try {
        await provisionAgents(await nc.jetstreamManager(), agents);
      } finally {
        await nc.close();
      }
      return;
    } catch (e) {
      lastError = e;
      // The reload may not have taken effect yet (our key unknown, JetStream restarting).
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw asFleetError(lastError, ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `provisioning streams and consumers at ${url} as ${admin.agent}`);
}

/**
 * With a NATS URL: FLEET_KEYS applied to the keys known here (rotated peers' pins saved to
 * peers.json); undefined, with the reason printed, when the server cannot be read yet.
 */
async function follow(ctx: CommandContext, url: string, admin: Identity, agents: AuthAgent[]): Promise<FollowedKeys | undefined> {
  try {
    const followed = await followKeys(url, admin, agents, { groups: true });
    const own = new Set(keystore(ctx.home).list());
    const pins = filePinStore(ctx.home);
    for (const a of followed.agents) {
      if (followed.rotated.includes(a.agent) && !own.has(a.agent)) pins.save({ agent: a.agent, keyId: keyIdFor(a.publicKey), publicKey: a.publicKey, pinnedAt: Date.now() });
    }
    return followed;
  } catch (e) {
    ctx.out.line(`key rotations not followed (${asFleetError(e, ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, url).message}): the keys known here are used`);
    return undefined;
  }
}

async function run(ctx: CommandContext): Promise<void> {
  const out = str(ctx, "out");
  if (!out) throw usageError("--out FILE is required (see fleet nats auth --help)");
  const admin = loadIdentity(ctx.home, str(ctx, "agent"));
  const url = natsUrl(ctx.home, str(ctx, "hub"));
  const known = knownAgents(ctx.home, admin);
  const followed = url ? await follow(ctx, url, admin, known) : undefined;
  const agents = followed?.agents ?? known;
  const chains = list(ctx, "chain").map(readChain);
  const given = foldChains(chains, [...agents, { agent: admin.agent, publicKey: admin.publicKey }]);
  // A chain given with --chain stands for its group; the others come from FLEET_GROUPS.
  const groups = [...given, ...(followed?.groups ?? []).filter((g) => !given.some((c) => c.group === g.group))].sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
  const policyFile = str(ctx, "capability-policy");
  const grants = grantsOption(list(ctx, "grant"));
  if (grants.length && !policyFile) throw usageError("--grant needs --capability-policy FILE: the policy says which capabilities are granted, and by whom");
  const capabilities = policyFile ? grantHolders(readCapabilityPolicy(policyFile), grants, agents) : undefined;
  const users = await buildAuthorization({ agents, admins: [{ agent: admin.agent, publicKey: admin.publicKey }], groups, capabilities });
  writeOutput(out, renderAuthorization(users), 0o600);
  const reloadArg = str(ctx, "reload");
  const pid = reloadArg === undefined ? undefined : pidOf(reloadArg);
  if (pid !== undefined) reload(pid);
  if (url) await provision(url, admin, agents.map((a) => a.agent));
  const membership = Object.fromEntries(groups.map((g) => [g.group, [...g.members.keys()].sort()]));
  ctx.out.line(`wrote ${out} (0600): admin ${admin.agent}, ${agents.length} agent${agents.length === 1 ? "" : "s"} (${agents.map((a) => a.agent).join(", ") || "none"})`);
  for (const [g, members] of Object.entries(membership)) ctx.out.line(`  group ${g}: ${members.join(", ")}`);
  for (const c of capabilities?.granted ?? []) ctx.out.line(`  capability ${c} (granted): ${[...capabilities!.holders.get(c)!].sort().join(", ") || "no holder"}`);
  for (const r of capabilities?.refused ?? []) ctx.out.line(`  grant refused (${r.error.code}${r.error.pointer ? ` at ${r.error.pointer}` : ""}): ${r.error.message}`);
  if (followed?.rotated.length) ctx.out.line(`rotated keys followed (FLEET_KEYS): ${followed.rotated.join(", ")}`);
  if (followed?.revoked.length) ctx.out.line(`revoked, not listed: ${followed.revoked.join(", ")}`);
  if (followed?.skipped?.length) ctx.out.line(`${followed.skipped.length} stored group statement(s) skipped: they do not verify or fold`);
  if (pid !== undefined) ctx.out.line(`reloaded nats-server (pid ${pid})`);
  if (url) ctx.out.line(`streams and durable consumers made at ${url}`);
  ctx.out.result({ ok: true, out, admin: admin.agent, agents: agents.map((a) => a.agent), groups: membership, capabilities: Object.fromEntries((capabilities?.granted ?? []).map((c) => [c, [...capabilities!.holders.get(c)!].sort()])), grants_refused: (capabilities?.refused ?? []).map((r) => ({ code: r.error.code, pointer: r.error.pointer, message: r.error.message })), rotated: followed?.rotated ?? [], revoked: followed?.revoked ?? [], reloaded: pid ?? null, provisioned: url ?? null });
}

const auth: Command = {
  name: "auth",
  summary: "write nats-server's authorization (an nkey user per agent, permissions per subject and group) and reload it",
  usage: "fleet nats auth --out FILE [--chain FILE]... [--capability-policy FILE [--grant GRANT|FILE]...] [--reload PID|PIDFILE] [--nats URL]",
  options: { out: { type: "string" }, chain: { type: "string", multiple: true }, reload: { type: "string" }, "capability-policy": { type: "string" }, grant: { type: "string", multiple: true } },
  run,
};

export const nats: Command = {
  name: "nats",
  summary: "run a NATS fleet whose nats-server enforces who may do what (auth)",
  usage: "fleet nats auth --out FILE [--chain FILE]... [--reload PID|PIDFILE]",
  sub: [auth],
};
