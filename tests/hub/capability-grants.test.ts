// Granted capabilities (spec/capabilities.md) against a real hub (TCP, SQLite): an offer of a
// granted capability without a valid grant is refused at the Hello and in a registry record
// (603, 602), capability:<name> reaches only holders whose grant is valid now, and open
// capabilities work as before. The verifier's memo is bounded and re-checks expiry.
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { MessageType, type Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { AgentRecordSchema, RegistryDeltaSchema, RegistryEntrySchema } from "../../generated/proto/fleet/v1/registry_pb.js";
import { systemClock, FakeClock, type Clock } from "../../runtime/clock.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { generateIdentity, signTokenClaims } from "../../runtime/crypto/index.js";
import { TokenClaimsSchema } from "../../generated/proto/fleet/v1/token_pb.js";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ErrorCode, isFleetError } from "../../runtime/errors.js";
import { capability } from "../../runtime/protocol/capabilities.js";
import { CapabilityGrants, GRANT_SCOPE, grantAudience, issueGrant, MAX_GRANT_MEMO, offerWithGrants, parseCapabilityPolicy, policyJson } from "../../runtime/protocol/capability-grants.js";
import { signRegistryEntry } from "../../runtime/protocol/registry-owner.js";
import { cleanup, inProcessHub, until } from "./support.js";

afterEach(cleanup);

const admin = generateIdentity("fleet-admin");
const rogue = generateIdentity("rogue-admin");
const bob = generateIdentity("bob");
const mallory = generateIdentity("mallory");
const policy = parseCapabilityPolicy(policyJson(admin, ["compute"]));

const refused = (code: ErrorCode, pointer?: string) => (e: unknown) => isFleetError(e, code) && (pointer === undefined || (e as { pointer: string }).pointer === pointer);
// At the Hello a 603 travels as the HelloReject's 104 (as for admission tokens); the reason is in its text.
const refusedFor = (code: ErrorCode, reason: RegExp) => (e: unknown) => isFleetError(e, code) && reason.test((e as Error).message);
const helloRefused = (reason: RegExp, code = ErrorCode.HANDSHAKE_AUTH_FAILED) => (e: unknown) => isFleetError(e, code) && reason.test((e as Error).message);

/** A clock that can be moved ahead of the system clock (timers stay real). */
function shiftedClock(): Clock & { shift: number } {
  const c = { shift: 0, now: () => Date.now() + c.shift, setTimer: systemClock.setTimer.bind(systemClock), clearTimer: systemClock.clearTimer.bind(systemClock) };
  return c as unknown as Clock & { shift: number };
}

describe("granted capabilities on the hub", () => {
  it("refuses a Hello offering a granted capability without a valid grant, each with its code", async () => {
    const hub = await inProcessHub({ capabilityPolicy: policy });
    const connect = (identity = mallory, grants?: string[], capabilities?: string[]) => connectHub({ port: hub.port, identity, grants, capabilities, reconnect: false });
    // No grant at all.
    await expect(connect(mallory, undefined, ["compute"])).rejects.toSatisfy(helloRefused(/compute is a granted capability/));
    // bob's grant copied by mallory: bound to bob's key.
    const bobs = issueGrant("compute", admin, { holderKeyId: bob.keyId, holder: "bob" });
    await expect(connect(mallory, [bobs])).rejects.toSatisfy(helloRefused(/token is for bob|bound to/));
    // Signed by a key the policy does not name.
    await expect(connect(mallory, [issueGrant("compute", rogue, { holderKeyId: mallory.keyId })])).rejects.toSatisfy(helloRefused(/unknown issuer key/));
    // Expired.
    const past = new FakeClock(Date.now() - 3_600_000);
    await expect(connect(mallory, [issueGrant("compute", admin, { holderKeyId: mallory.keyId, ttlMs: 60_000, clock: past })])).rejects.toSatisfy(helloRefused(/expired/, ErrorCode.SECURITY_TOKEN_EXPIRED));
    // A grant of another capability attached to compute by hand.
    const other = offerWithGrants(["compute"]);
    other[0]!.grant = issueGrant("gpu", admin, { holderKeyId: mallory.keyId });
    // Offering nothing granted, mallory is admitted as before.
    const plain = await connect(mallory);
    expect(() => hub.hub.grants.checkOffer(other[0]!, { agent: "mallory", keyId: mallory.keyId })).toThrow(expect.objectContaining({ code: ErrorCode.SECURITY_UNAUTHORIZED, pointer: "/audience" }));
    // Scope other than capability:offer, and a use limit (a grant has none).
    const claims = (over: object) => create(TokenClaimsSchema, { tokenId: "t", issuer: admin.agent, audience: grantAudience("compute"), scopes: [GRANT_SCOPE], holderKeyId: mallory.keyId, issuedAt: timestampFromMs(Date.now()), expiresAt: timestampFromMs(Date.now() + 60_000), ...over });
    await expect(connect(mallory, [signTokenClaims(claims({ scopes: ["group:join"] }), admin)])).rejects.toSatisfy(helloRefused(/does not grant capability:offer/));
    await expect(connect(mallory, [signTokenClaims(claims({ maxUses: 3 }), admin)])).rejects.toSatisfy(helloRefused(/use limit/));
    await expect(connect(mallory, [signTokenClaims(claims({ holderKeyId: "" }), admin)])).rejects.toSatisfy(helloRefused(/must name its holder's key/));
    expect(hub.hub.isOnline("mallory")).toBe(true);
    await plain.close();
    // The valid grant admits; an open capability needs none.
    const b = await connect(bob, [bobs], ["summarize"]);
    await until(() => hub.hub.registry.agent("bob") !== undefined);
    expect(hub.hub.registry.agent("bob")!.capabilities.map((c) => [c.name, c.grant === bobs])).toEqual([["summarize", false], ["compute", true]]);
    await b.close();
  });

  it("refuses a registry record offering a granted capability without its grant (603, nothing written)", async () => {
    const hub = await inProcessHub({ capabilityPolicy: policy });
    const m = await connectHub({ port: hub.port, identity: mallory, reconnect: false });
    const record = create(AgentRecordSchema, { agentId: "mallory", keyId: mallory.keyId, publicKey: mallory.publicKey, capabilities: [capability("compute")], groups: ["x"], versions: ["3.0"] });
    const entry = create(RegistryEntrySchema, { key: "agent/mallory", version: { wallMs: BigInt(Date.now()), logical: 0, node: "mallory" }, record: { case: "agent", value: record }, causal: [{ node: "mallory", count: 1n }] });
    signRegistryEntry(entry, mallory);
    const send = () => m.send({ to: "fleet:hub", type: MessageType.COMMAND, sign: false, requiresAck: true, body: { case: "registryDelta", value: create(RegistryDeltaSchema, { node: "mallory", entries: [entry] }) } });
    await expect(send()).rejects.toSatisfy(refusedFor(ErrorCode.SECURITY_UNAUTHORIZED, /compute is a granted capability/));
    expect(hub.hub.registry.agent("mallory")!.capabilities).toEqual([]);
    // With mallory's own grant the same record is taken.
    record.capabilities[0]!.grant = issueGrant("compute", admin, { holderKeyId: mallory.keyId, holder: "mallory" });
    signRegistryEntry(entry, mallory);
    await send();
    expect(hub.hub.registry.agent("mallory")!.capabilities[0]!.grant).toBe(record.capabilities[0]!.grant);
    // Through connectHub: groups announced with a grant go through the same check.
    const b = await connectHub({ port: hub.port, identity: bob, grants: [issueGrant("compute", admin, { holderKeyId: bob.keyId })], groups: ["crew"], reconnect: false });
    expect(hub.hub.registry.agent("bob")!.groups).toEqual(["crew"]);
    await b.close();
    await m.close();
  });

  it("routes capability:compute only to holders whose grant is valid now; an expired grant stops it (303), open capabilities unaffected", async () => {
    // Fresh identities: a client's replay guard is shared per identity and keeps the clock it was made with.
    const bob = generateIdentity("bob");
    const alice = generateIdentity("alice");
    const clock = shiftedClock();
    const hub = await inProcessHub({ capabilityPolicy: policy, clock, idleTimeoutMs: 3_600_000 });
    const grant = issueGrant("compute", admin, { holderKeyId: bob.keyId, ttlMs: 1_000 });
    const b = await connectHub({ port: hub.port, identity: bob, clock, grants: [grant], capabilities: ["summarize"], reconnect: false });
    const a = await connectHub({ port: hub.port, identity: alice, clock, reconnect: false, receiptAttempts: 1 });
    const got: Envelope[] = [];
    b.onMessage((env) => got.push(env));
    await a.send({ to: "capability:compute", json: { n: 1 }, requiresAck: true });
    await until(() => got.length === 1);
    // Past expiry and the hub's skew allowance: bob's offer of compute no longer counts.
    clock.shift = 125_000;
    await expect(a.send({ to: "capability:compute", json: { n: 2 }, requiresAck: true })).rejects.toSatisfy(refused(ErrorCode.DISCOVERY_CAPABILITY_NOT_FOUND));
    await a.send({ to: "capability:summarize", json: { n: 3 }, requiresAck: true });
    await until(() => got.length === 2);
    expect(got.map((e) => e.recipient?.target.value)).toEqual(["compute", "summarize"]);
    await a.close();
    await b.close();
  });
});

describe("CapabilityGrants", () => {
  it("re-checks expiry on every use and bounds its memo", () => {
    const clock = new FakeClock(Date.now());
    const grants = new CapabilityGrants(policy, clock, 0, 64);
    const grant = issueGrant("compute", admin, { holderKeyId: bob.keyId, ttlMs: 10_000, clock });
    const record = { agentId: "bob", keyId: bob.keyId, capabilities: offerWithGrants([], [grant]) };
    expect(grants.holds("compute", record)).toBe(true);
    expect(grants.holds("open-one", { ...record, capabilities: [] })).toBe(true);
    clock.advance(10_000);
    expect(grants.holds("compute", record)).toBe(false);
    const memo = (grants as unknown as { memo: Map<string, unknown> }).memo;
    for (let i = 0; i < 100; i++) grants.holds("compute", { agentId: `a${i}`, keyId: bob.keyId, capabilities: record.capabilities });
    expect(memo.size).toBeLessThanOrEqual(64);
    expect(MAX_GRANT_MEMO).toBe(4096); // the default bound, documented in spec/capabilities.md
  });

  it("reads a policy file and refuses a malformed one (709) or one past its bounds (804)", () => {
    expect([...parseCapabilityPolicy(policyJson(admin, ["compute", "gpu"])).keys()]).toEqual(["compute", "gpu"]);
    expect(() => parseCapabilityPolicy({ granted: { compute: [{ agent: "x", public_key: "abc" }] } })).toThrow(expect.objectContaining({ code: ErrorCode.VALIDATION_OUT_OF_RANGE, pointer: "/granted/compute/0/public_key" }));
    expect(() => parseCapabilityPolicy({ granted: { "Bad Name": [] } })).toThrow(expect.objectContaining({ code: ErrorCode.VALIDATION_OUT_OF_RANGE }));
    expect(() => parseCapabilityPolicy([])).toThrow(expect.objectContaining({ code: ErrorCode.VALIDATION_OUT_OF_RANGE, pointer: "/granted" }));
    const many = { granted: Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`c${i}`, policyJson(admin, ["x"]).granted.x])) };
    expect(() => parseCapabilityPolicy(many)).toThrow(expect.objectContaining({ code: ErrorCode.DELIVERY_BUSY }));
  });
});
