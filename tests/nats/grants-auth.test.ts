// nats-server enforces granted capabilities (spec/capabilities.md "On NATS", spec/nats-auth.md):
// with the authorization authorization.ts writes from the policy and the grants, a real
// nats-server lets the grant's holder subscribe to fleet.v1.capability.<granted> and receive
// its traffic, and refuses everyone else (permissions violation; a wildcard subscription is
// not given it either), while open capabilities stay open. Holders come from grants verified
// against the agents' current keys: an expired grant, or another agent's, makes no holder.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { applicationValue } from "../../runtime/client/draft.js";
import { systemClock } from "../../runtime/clock.js";
import { generateIdentity, type Identity } from "../../runtime/crypto/index.js";
import { ErrorCode } from "../../runtime/errors.js";
import { buildAuthorization, renderAuthorization } from "../../runtime/nats/authorization.js";
import { connectNats, type NatsFleetConnection } from "../../runtime/nats/connection.js";
import { grantHolders } from "../../runtime/nats/grants.js";
import { subjects } from "../../runtime/nats/subjects.js";
import { issueGrant, parseCapabilityPolicy, policyJson } from "../../runtime/protocol/capability-grants.js";
import { hasNatsServer, natsSkipMessage, type NatsServerHandle } from "../support/nats-server.js";
import { rawLogin, startAuthorizedServer, violations, writeAuthorizationFile } from "./support/authorized.js";

if (!hasNatsServer) console.warn(natsSkipMessage);

const authority = generateIdentity("fleet-admin");
const policy = parseCapabilityPolicy(policyJson(authority, ["compute"]));
const ids = { operator: generateIdentity("operator"), holder: generateIdentity("holder"), other: generateIdentity("other") };
const agents = [ids.holder, ids.other].map((i) => ({ agent: i.agent, publicKey: i.publicKey }));
const grant = issueGrant("compute", authority, { holderKeyId: ids.holder.keyId, holder: "holder" });

describe("grantHolders", () => {
  it("a grant makes its holder only; an expired one, or one for an unknown key, makes none and is said so", () => {
    const expired = issueGrant("compute", authority, { holderKeyId: ids.other.keyId, clock: { ...systemClock, now: () => Date.now() - 3_600_000 }, ttlMs: 60_000 });
    const stranger = issueGrant("compute", authority, { holderKeyId: generateIdentity("gone").keyId });
    const r = grantHolders(policy, [grant, expired, stranger], agents);
    expect(r.granted).toEqual(["compute"]);
    expect([...r.holders.get("compute")!]).toEqual(["holder"]);
    expect(r.refused.map((x) => x.error.code)).toEqual([ErrorCode.SECURITY_TOKEN_EXPIRED, ErrorCode.SECURITY_UNAUTHORIZED]);
  });
});

describe.skipIf(!hasNatsServer)("nats-server enforces granted capabilities", () => {
  let dir: string;
  let server: NatsServerHandle;
  const open: { close(): Promise<void> }[] = [];

  async function raw(id: Identity): Promise<NatsConnection> {
    const nc = await rawLogin(server.url, id);
    open.push(nc);
    return nc;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "fleet-nats-grants-auth-"));
    const users = await buildAuthorization({ agents, admins: [{ agent: "operator", publicKey: ids.operator.publicKey }], capabilities: grantHolders(policy, [grant], agents) });
    writeAuthorizationFile(dir, renderAuthorization(users));
    server = await startAuthorizedServer(dir, ids.operator, agents);
  });

  afterAll(async () => {
    for (const c of open.reverse()) await c.close().catch(() => {});
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the holder subscribes and receives capability:compute; another agent's subscription is refused by the server", async () => {
    const holder: NatsFleetConnection = await connectNats({ url: server.url, identity: ids.holder, auth: "nkey", grants: [grant], capabilityPolicy: policy, registry: false });
    open.push(holder);
    const holderViolations = violations(holder.carrier.nc);
    const sender: NatsFleetConnection = await connectNats({ url: server.url, identity: ids.other, auth: "nkey", capabilities: ["storage"], registry: false });
    open.push(sender);

    // The other agent, by hand: the exact subject is refused, and a wildcard is not given it.
    const nc = await raw(ids.other);
    const refused = violations(nc);
    const exact: string[] = [];
    const wild: string[] = [];
    nc.subscribe(subjects.capability("compute"), { callback: (e, m) => e || exact.push(m.subject) });
    nc.subscribe("fleet.v1.capability.*", { callback: (e, m) => e || wild.push(m.subject) });
    await nc.flush();
    await expect.poll(() => refused, { timeout: 5_000 }).toContain(`subscription ${subjects.capability("compute")}`);

    const got = new Promise<Envelope>((resolve) => holder.onMessage((env) => resolve(env)));
    await holder.carrier.flush();
    await sender.send({ to: "capability:compute", json: "job" });
    expect(applicationValue(await got)).toBe("job");
    // Open capabilities stay open: the wildcard gets storage traffic, never compute.
    await sender.send({ to: "capability:storage", json: "open" });
    await expect.poll(() => wild, { timeout: 5_000 }).toContain(subjects.capability("storage"));
    await nc.flush();
    expect(exact).toEqual([]);
    expect(wild).not.toContain(subjects.capability("compute"));
    expect(holderViolations).toEqual([]);
  }, 60_000);
});
