// Granted capabilities on NATS (spec/capabilities.md "On NATS"), against a real nats-server:
// an agent given the fleet's capability policy refuses, in its registry replica, a record
// offering a granted capability without a valid grant (and registry answers leave it out,
// whichever replica served them); a holder with a grant is found and receives capability
// traffic; an agent without a valid grant is refused at connect; an expired grant stops counting.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { RegistryQuerySchema } from "../../generated/proto/fleet/v1/registry_pb.js";
import { ApplicationPayloadSchema } from "../../generated/proto/fleet/v1/payload_pb.js";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { createBottle } from "../../runtime/protocol/bottles.js";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { applicationValue } from "../../runtime/client/draft.js";
import { systemClock } from "../../runtime/clock.js";
import { generateIdentity, PinnedKeys } from "../../runtime/crypto/index.js";
import { NatsGrants } from "../../runtime/nats/grants.js";
import { MAX_REPORTED_REFUSALS, NatsRegistrySync } from "../../runtime/nats/registry.js";
import { RegistryReplica } from "../../runtime/protocol/registry.js";
import { ErrorCode, FleetError } from "../../runtime/errors.js";
import { issueGrant, parseCapabilityPolicy, policyJson } from "../../runtime/protocol/capability-grants.js";
import { hasNatsServer, natsSkipMessage } from "../support/nats-server.js";
import { natsAgents } from "./support/agents.js";

if (!hasNatsServer) console.warn(natsSkipMessage);

const authority = generateIdentity("fleet-admin");
const capabilityPolicy = parseCapabilityPolicy(policyJson(authority, ["compute"]));
const fast = { syncIntervalMs: 200, heartbeatMs: 200 };
const names = (r: { agents: { agentId: string }[] }) => r.agents.map((a) => a.agentId).sort();

describe("NatsGrants.checkRecord in a registry replica", () => {
  it("a record naming another agent's key cannot borrow that agent's grant (607 at its keyId)", () => {
    const keys = new PinnedKeys();
    const holder = generateIdentity("ck-holder");
    const mallory = generateIdentity("ck-mallory");
    keys.pin(holder.agent, holder.publicKey);
    keys.pin(mallory.agent, mallory.publicKey);
    // A grant bound to the holder's key only (no name): Mallory's record claims that key.
    const grant = issueGrant("compute", authority, { holderKeyId: holder.keyId });
    const own = new RegistryReplica({ node: mallory.agent, clock: systemClock, owners: keys, signer: mallory });
    const entry = own.putAgent({ agentId: mallory.agent, keyId: holder.keyId, publicKey: holder.publicKey, capabilities: [{ name: "compute", grant }] });
    const replica = new RegistryReplica({ node: "ck-peer", clock: systemClock, owners: keys, checkRecord: new NatsGrants(capabilityPolicy, { keys, clock: systemClock }).checkRecord });
    const refused: FleetError[] = [];
    replica.onRefused((r) => refused.push(r.error));
    replica.merge([entry]);
    expect(replica.agent(mallory.agent)).toBeUndefined();
    expect(refused).toEqual([expect.objectContaining({ code: ErrorCode.SECURITY_KEY_MISMATCH, pointer: "/entries/0/agent/keyId" })]);
  });
});

describe.skipIf(!hasNatsServer)("granted capabilities on NATS", () => {
  const join = natsAgents();

  it("a peer with the policy refuses a record offering a granted capability without a grant; queries return only holders", async () => {
    const rejects: FleetError[] = [];
    const peer = await join("gr-peer", { capabilityPolicy, registry: fast, onReject: (e, subject) => subject === "registry" && rejects.push(e) });
    const holderId = generateIdentity("gr-holder");
    const grant = issueGrant("compute", authority, { holderKeyId: holderId.keyId, holder: "gr-holder" });
    // The holder lists no capability: its grant alone offers compute (as connectHub's grants).
    const holder = await join("gr-holder", { identity: holderId, grants: [grant], capabilityPolicy, registry: fast });
    expect(holder.membership!.replica.agent("gr-holder")!.capabilities).toEqual([expect.objectContaining({ name: "compute", grant })]);
    // Mallory knows no policy, so nothing stops it offering compute bare; and a copy of the
    // holder's grant names the holder (and its key), not the thief.
    await join("gr-mallory", { capabilities: ["compute"], registry: fast });
    await join("gr-thief", { capabilities: ["compute", "storage"], grants: [grant], registry: fast });

    const replica = peer.membership!.replica;
    await expect.poll(() => replica.agent("gr-holder") !== undefined, { timeout: 10_000 }).toBe(true);
    await expect.poll(() => rejects.map((e) => e.pointer).sort(), { timeout: 10_000 }).toEqual([expect.stringMatching(/^\/entries\/\d+\/agent\/capabilities\/0\/grant$/), "/subject"]);
    expect(rejects.map((e) => e.code)).toEqual([ErrorCode.SECURITY_UNAUTHORIZED, ErrorCode.SECURITY_UNAUTHORIZED]);
    // Refused whole: neither record is in the peer's replica, whatever the other replicas hold.
    expect(replica.agent("gr-mallory")).toBeUndefined();
    expect(replica.agent("gr-thief")).toBeUndefined();
    // Each refused version is reported once, though anti-entropy offers it again every round.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(rejects).toHaveLength(2);
    expect(names(replica.query(create(RegistryQuerySchema, { capability: "compute" })))).toEqual(["gr-holder"]);

    // An asker with the policy gets only the holder, whichever replica answers (Mallory's own
    // replica, without the policy, would list Mallory): the answer is checked here too.
    const asker = await join("gr-asker", { capabilityPolicy, registry: false });
    for (let i = 0; i < 6; i++) expect(names(await asker.queryRegistry({ capability: "compute" }))).toEqual(["gr-holder"]);
    expect(names(await asker.queryRegistry({}))).not.toContain("gr-mallory");
  }, 60_000);

  it("a holder receives capability traffic; an agent without a valid grant is refused at connect and never subscribed", async () => {
    const holderId = generateIdentity("gr-worker");
    const worker = await join("gr-worker", { identity: holderId, capabilities: ["compute"], grants: [issueGrant("compute", authority, { holderKeyId: holderId.keyId })], capabilityPolicy, registry: false });
    const sender = await join("gr-sender", { registry: false });
    const got = new Promise<Envelope>((resolve) => worker.onMessage((env) => resolve(env)));
    await worker.carrier.flush();
    await sender.send({ to: "capability:compute", json: "job" });
    expect(applicationValue(await got)).toBe("job");

    // Bare, with another agent's grant, or with an open capability's name only: refused with the code the hub uses.
    await expect(join("gr-bare", { capabilities: ["compute"], capabilityPolicy, registry: false })).rejects.toMatchObject({ code: ErrorCode.SECURITY_UNAUTHORIZED, pointer: "/capabilities/0/grant" });
    const stolen = issueGrant("compute", authority, { holderKeyId: holderId.keyId });
    await expect(join("gr-stealer", { grants: [stolen], capabilityPolicy, registry: false })).rejects.toMatchObject({ code: ErrorCode.SECURITY_UNAUTHORIZED, pointer: "/holderKeyId" });
    const forger = generateIdentity("gr-forger");
    const forgerId = generateIdentity("gr-forged");
    const forged = issueGrant("compute", forger, { holderKeyId: forgerId.keyId });
    await expect(join("gr-forged", { identity: forgerId, grants: [forged], capabilityPolicy, registry: false })).rejects.toMatchObject({ code: ErrorCode.SECURITY_SIGNATURE_INVALID });
    // Something that is not a grant: refused before anything connects (601).
    await expect(join("gr-junk", { grants: ["not-a-grant"], capabilityPolicy, registry: false })).rejects.toMatchObject({ code: ErrorCode.SECURITY_SIGNATURE_INVALID });
    // Open capabilities stay open.
    const open = await join("gr-open", { capabilities: ["storage"], capabilityPolicy, registry: false });
    expect(open.status).toBe("connected");
  }, 60_000);

  it("an expired grant stops counting: the holder refuses compute traffic (602) and the registry stops listing it", async () => {
    // Issued in the past so that it stops counting a few seconds from now (expiry + the 120 s skew allowance).
    const lifeMs = 4_000;
    const issued = { ...systemClock, now: () => Date.now() - 600_000 };
    const holderId = generateIdentity("gr-brief");
    const grant = issueGrant("compute", authority, { holderKeyId: holderId.keyId, clock: issued, ttlMs: 600_000 - 120_000 + lifeMs });
    const start = Date.now();
    const rejects: FleetError[] = [];
    const brief = await join("gr-brief", { identity: holderId, grants: [grant], capabilityPolicy, registry: fast, onReject: (e) => rejects.push(e) });
    const peer = await join("gr-watcher", { capabilityPolicy, registry: fast });
    const got: unknown[] = [];
    brief.onMessage((env) => got.push(applicationValue(env)));
    const sender = await join("gr-sender2", { registry: false });
    await brief.carrier.flush();
    await sender.send({ to: "capability:compute", json: "while valid" });
    await expect.poll(() => got, { timeout: 5_000 }).toEqual(["while valid"]);
    await expect.poll(() => names(peer.membership!.replica.query(create(RegistryQuerySchema, { capability: "compute" }))), { timeout: 5_000 }).toContain("gr-brief");
    expect(Date.now() - start).toBeLessThan(lifeMs); // the first half ran while the grant counted

    await new Promise((r) => setTimeout(r, Math.max(0, start + lifeMs + 500 - Date.now())));
    expect(names(peer.membership!.replica.query(create(RegistryQuerySchema, { capability: "compute" })))).not.toContain("gr-brief");
    expect(names(brief.membership!.replica.query(create(RegistryQuerySchema, { capability: "compute" })))).not.toContain("gr-brief");
    expect(peer.membership!.replica.agent("gr-brief")).toBeDefined(); // stored while valid; no longer answered
    await sender.send({ to: "capability:compute", json: "after expiry" });
    await expect.poll(() => rejects.map((e) => e.code), { timeout: 5_000 }).toContain(ErrorCode.SECURITY_TOKEN_EXPIRED);
    // The subscription is dropped with the refusal: later traffic does not even arrive.
    const refusals = rejects.length;
    await sender.send({ to: "capability:compute", json: "later" });
    await brief.carrier.flush();
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toEqual(["while valid"]);
    expect(rejects.length).toBe(refusals);
  }, 60_000);

  it("reports each refused entry version once, remembering at most MAX_REPORTED_REFUSALS (then forgetting them all)", async () => {
    const conn = await join("gr-bound", { registry: false });
    const id = generateIdentity("gr-src");
    const src = new RegistryReplica({ node: "gr-src", clock: systemClock, unverified: true });
    const entries = Array.from({ length: MAX_REPORTED_REFUSALS + 1 }, (_, i) => src.putAgent({ agentId: `gr-a${i}`, keyId: id.keyId, publicKey: id.publicKey }));
    const replica = new RegistryReplica({
      node: "gr-bound",
      clock: systemClock,
      unverified: true,
      checkRecord: () => {
        throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, "refused");
      },
    });
    let reported = 0;
    const sync = new NatsRegistrySync(conn, replica, { serveQueries: false, intervalMs: 60_000, onError: () => reported++ });
    sync.start();
    try {
      replica.merge(entries.slice(0, MAX_REPORTED_REFUSALS));
      replica.merge(entries.slice(0, MAX_REPORTED_REFUSALS));
      expect(reported).toBe(MAX_REPORTED_REFUSALS);
      expect(replica.entries()).toEqual([]);
      // One more: the set was full, so it is emptied and the first refusal is news again.
      replica.merge([entries[MAX_REPORTED_REFUSALS]!]);
      replica.merge([entries[0]!]);
      expect(reported).toBe(MAX_REPORTED_REFUSALS + 2);
    } finally {
      sync.stop();
    }
  });

  it("a bottle conditioned on capability:render waits for a holder (agents of earlier tests hold compute): a bare offer does not count", async () => {
    const renderPolicy = parseCapabilityPolicy(policyJson(authority, ["render"]));
    const rejects: FleetError[] = [];
    const recipient = await join("gr-bottle-to", { capabilityPolicy: renderPolicy, registry: fast, onReject: (e, subject) => subject === "registry" && rejects.push(e) });
    const letters: Envelope[] = [];
    recipient.onMessage((env) => env.body?.kind.case === "bottleLetter" && letters.push(env));
    const originId = generateIdentity("gr-bottle-from");
    const origin = await join("gr-bottle-from", { identity: originId, registry: false });
    const payload = create(ApplicationPayloadSchema, { mediaType: "text/plain", content: { case: "json", value: '"when computed"' } });
    const bottle = createBottle(originId, systemClock, { bottleId: "gr-b-1", to: { agent: "gr-bottle-to" }, condition: "capability:render", payload });
    await origin.send({ to: "fleet:hub", type: MessageType.COMMAND, requiresAck: true, body: { case: "bottle", value: bottle } });
    // A bare offer of render reaches the recipient's replica and is refused: the bottle stays stored.
    await join("gr-bottle-rogue", { capabilities: ["render"], registry: fast });
    await expect.poll(() => rejects.some((e) => e.message.includes("render is a granted capability")), { timeout: 10_000 }).toBe(true);
    await new Promise((r) => setTimeout(r, 2_500)); // more than one recheck (2 s)
    expect(letters).toEqual([]);
    const holderId = generateIdentity("gr-bottle-holder");
    await join("gr-bottle-holder", { identity: holderId, grants: [issueGrant("render", authority, { holderKeyId: holderId.keyId })], registry: fast });
    await expect.poll(() => letters.length, { timeout: 10_000 }).toBe(1);
  }, 60_000);
});
