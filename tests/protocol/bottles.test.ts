import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { type Bottle, BottleStatus } from "../../generated/proto/fleet/v1/bottle_pb.js";
import { ApplicationPayloadSchema } from "../../generated/proto/fleet/v1/payload_pb.js";
import type { SignedEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import { FakeClock } from "../../runtime/clock.js";
import { generateIdentity, type Identity, openSignedEnvelope, StaticKeys } from "../../runtime/crypto/index.js";
import { ErrorCode } from "../../runtime/errors.js";
import { conditionText, evaluateCondition, parseCondition } from "../../runtime/protocol/bottle-condition.js";
import { BottleEngine, BottleInbox, BottleTracker, bottleReceipt, createBottle, signBottleReceipt } from "../../runtime/protocol/bottles.js";
import { codeOf } from "./helpers.js";

const alice = generateIdentity("alice");
const bob = generateIdentity("bob");
const hubs = ["hub-a", "hub-b", "hub-c"].map((n) => generateIdentity(n));
const keys = new StaticKeys([alice, bob, ...hubs]);
const idOf = (b: Bottle) => (openSignedEnvelope(b.letter!, { keys }).body!.kind.value as { bottleId: string }).bottleId;
const payload = create(ApplicationPayloadSchema, { mediaType: "application/json", content: { case: "json", value: '{"hi":1}' } });

function node(identity: Identity, clock: FakeClock, online: Set<string>, caps = new Set<string>()) {
  const delivered: Bottle[] = [];
  const receipts: { to: string; signed: SignedEnvelope }[] = [];
  const engine = new BottleEngine({
    identity,
    keys,
    clock,
    world: { isOnline: (a) => online.has(a), hasCapability: (c) => caps.has(c) },
    deliver: (b) => (delivered.push(b), true),
    sendReceipt: (to, signed) => receipts.push({ to, signed }),
  });
  const statuses = () => receipts.map((r) => openSignedEnvelope(r.signed, { keys })).map((e) => (e.body?.kind.case === "bottleReceipt" ? [BottleStatus[e.body.kind.value.status], e.body.kind.value.reason] : []));
  return { engine, delivered, receipts, statuses };
}

describe("bottle conditions", () => {
  it("parses, prints and evaluates the text form", () => {
    const c = parseCondition("agent_online:bob & capability:compute | not_before:2026-11-20T12:00:00Z");
    expect(c.kind.case).toBe("any");
    expect(conditionText(c)).toBe("agent_online:bob&capability:compute|not_before:2026-11-20T12:00:00.000Z");
    expect(conditionText(parseCondition("always&(agent_online:a|agent_online:b)"))).toBe("always&(agent_online:a|agent_online:b)");
    const world = (now: number, online: string[], caps: string[] = []) => ({ now, isOnline: (a: string) => online.includes(a), hasCapability: (x: string) => caps.includes(x) });
    const noon = Date.UTC(2026, 10, 20, 12);
    expect(evaluateCondition(c, world(noon - 1, ["bob"]))).toBe(false);
    expect(evaluateCondition(c, world(noon - 1, ["bob"], ["compute"]))).toBe(true);
    expect(evaluateCondition(c, world(noon, []))).toBe(true);
    for (const badText of ["", "agent_online:", "sometimes", "always&", "(always", "not_before:yesterday", "always)"]) {
      expect(codeOf(() => parseCondition(badText))).toBe(ErrorCode.VALIDATION_OUT_OF_RANGE);
    }
  });
});

describe("bottle engine", () => {
  it("queues until the condition holds, delivers once, and reports queued -> delivered -> acknowledged to the sender", () => {
    const clock = new FakeClock();
    const online = new Set<string>();
    const hub = node(hubs[0], clock, online);
    const bottle = createBottle(alice, clock, { to: { agent: "bob" }, condition: "agent_online:bob", payload });
    const tracker = new BottleTracker({ keys, clock });
    const letterEnv = openSignedEnvelope(bottle.letter!, { keys });
    tracker.track(letterEnv.body!.kind.value as never);
    expect(hub.engine.accept(bottle)).toEqual({ status: BottleStatus.QUEUED, duplicate: false });
    expect(hub.delivered).toEqual([]);
    online.add("bob");
    hub.engine.evaluate();
    expect(hub.delivered.length).toBe(1);
    expect(hub.delivered[0].postmarks.map((p) => [p.relay, p.hop])).toEqual([["hub-a", 1]]);
    expect(hub.engine.accept(bottle)).toEqual({ status: BottleStatus.DELIVERED, duplicate: true });
    hub.engine.evaluate();
    expect(hub.delivered.length).toBe(1); // never twice
    // The recipient acknowledges; the hub records it and passes bob's signed receipt to alice.
    const inbox = new BottleInbox({ identity: bob, keys, clock });
    const got = inbox.receive(hub.delivered[0])!;
    expect(got.letter.payload?.content.value).toBe('{"hi":1}');
    expect(inbox.receive(hub.delivered[0])).toBeUndefined();
    expect(hub.engine.acknowledged(got.ack)).toBe(BottleStatus.ACKNOWLEDGED);
    expect(hub.statuses()).toEqual([["QUEUED", 0], ["DELIVERED", 0], ["ACKNOWLEDGED", 0]]);
    for (const r of hub.receipts) expect(r.to).toBe("alice");
    for (const r of hub.receipts) tracker.receive(r.signed);
    expect(BottleStatus[tracker.get(idOf(bottle))!.status]).toBe("ACKNOWLEDGED");
  });

  it("waits for not_before on the fake clock and expires bottles whose ttl runs out", () => {
    const clock = new FakeClock();
    const online = new Set(["bob"]);
    const hub = node(hubs[0], clock, online);
    const at = new Date(clock.now() + 60_000).toISOString();
    hub.engine.accept(createBottle(alice, clock, { to: { agent: "bob" }, condition: `not_before:${at}&always`, payload }));
    clock.advance(59_999);
    expect(hub.delivered.length).toBe(0);
    clock.advance(1);
    expect(hub.delivered.length).toBe(1);
    const never = createBottle(alice, clock, { to: { agent: "carol" }, condition: "always", payload, ttlSeconds: 30 });
    hub.engine.accept(never);
    clock.advance(30_000);
    expect(hub.statuses().at(-1)).toEqual(["EXPIRED", ErrorCode.DELIVERY_EXPIRED]);
    expect(clock.pendingTimers).toBe(0);
    clock.advance(86_400_000);
    expect(hub.engine.purge()).toBe(2);
  });

  it("stamps a chained postmark per hop and fails past the hop limit with 807", () => {
    const clock = new FakeClock();
    const online = new Set<string>();
    const [a, b, c] = hubs.map((h) => node(h, clock, online));
    const bottle = createBottle(alice, clock, { to: { agent: "bob" }, payload, maxHops: 2 });
    a.engine.accept(bottle);
    const bottleId = idOf(bottle);
    const hop1 = a.engine.relay("alice", bottleId);
    b.engine.accept(hop1);
    const hop2 = b.engine.relay("alice", bottleId);
    expect(hop2.postmarks.map((p) => p.hop)).toEqual([1, 2]);
    c.engine.accept(hop2);
    expect(c.statuses()).toEqual([["FAILED", ErrorCode.DELIVERY_HOP_LIMIT]]);
    // A broken chain: postmarks reordered or re-signed by another relay do not verify.
    const swapped = { ...hop2, postmarks: [hop2.postmarks[1], hop2.postmarks[0]] };
    expect(codeOf(() => c.engine.accept(swapped))).toBe(ErrorCode.VALIDATION_OUT_OF_RANGE);
    const forged = { ...hop2, postmarks: [hop2.postmarks[0], { ...hop2.postmarks[1], relay: "hub-c", keyId: hubs[2].keyId }] };
    expect(codeOf(() => new BottleEngine({ identity: hubs[2], keys, clock, world: { isOnline: () => false, hasCapability: () => false }, deliver: () => true, sendReceipt: () => {} }).accept(forged))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
  });

  it("is idempotent across relays: two paths, one delivery", () => {
    const clock = new FakeClock();
    const online = new Set(["bob"]);
    const a = node(hubs[0], clock, new Set());
    const b = node(hubs[1], clock, online);
    const c = node(hubs[2], clock, online);
    const bottle = createBottle(alice, clock, { to: { agent: "bob" }, payload });
    a.engine.accept(bottle);
    const id = idOf(bottle);
    const copy = a.engine.relay("alice", id);
    b.engine.accept(copy);
    c.engine.accept(copy); // flooded down a second path
    expect(b.engine.accept(c.delivered[0]).duplicate).toBe(true);
    const inbox = new BottleInbox({ identity: bob, keys, clock });
    const firsts = [...b.delivered, ...c.delivered].map((x) => inbox.receive(x)).filter(Boolean);
    expect(firsts.length).toBe(1);
  });

  it("rejects tampered, unknown-origin and foreign-acknowledged bottles without changing state", () => {
    const clock = new FakeClock();
    const online = new Set(["bob"]);
    const hub = node(hubs[0], clock, online);
    const bottle = createBottle(alice, clock, { to: { agent: "bob" }, payload });
    const tampered = { ...bottle, letter: { ...bottle.letter!, payload: bottle.letter!.payload.slice() } };
    tampered.letter.payload[5] ^= 1;
    expect(codeOf(() => hub.engine.accept(tampered))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    const stranger = generateIdentity("stranger");
    expect(codeOf(() => hub.engine.accept(createBottle(stranger, clock, { to: { agent: "bob" }, payload })))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(hub.receipts).toEqual([]);
    hub.engine.accept(bottle);
    const mallory = generateIdentity("mallory");
    const malloryKeys = new StaticKeys([alice, bob, mallory, ...hubs]);
    const inboxAsMallory = new BottleInbox({ identity: mallory, keys: malloryKeys, clock });
    expect(codeOf(() => inboxAsMallory.receive(hub.delivered[0]))).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    const tracker = new BottleTracker({ keys, clock });
    expect(codeOf(() => tracker.receive(hub.receipts[0].signed))).toBe(ErrorCode.HANDSHAKE_REQUIRED); // not tracked
    const id = idOf(bottle);
    // Acknowledgements: a bad signature (601) or a signer other than the recipient (603) change nothing.
    const realAck = new BottleInbox({ identity: bob, keys, clock }).receive(hub.delivered[0])!.ack;
    const bogus = { ...realAck, signature: { ...realAck.signature!, sig: new Uint8Array(64) } };
    expect(codeOf(() => hub.engine.acknowledged(bogus))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    const hubWithMallory = new BottleEngine({ identity: hubs[0], keys: malloryKeys, clock, world: { isOnline: () => true, hasCapability: () => false }, deliver: () => true, sendReceipt: () => {} });
    hubWithMallory.accept(bottle);
    const malloryAck = signBottleReceipt(bottleReceipt(id, BottleStatus.ACKNOWLEDGED, "mallory", clock.now(), ErrorCode.UNSPECIFIED, "", "alice"), "alice", mallory, clock);
    expect(codeOf(() => hubWithMallory.acknowledged(malloryAck))).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(hubWithMallory.get("alice", id)!.status).toBe(BottleStatus.DELIVERED);
    expect(hub.engine.get("alice", id)!.status).toBe(BottleStatus.DELIVERED);
    expect(hub.engine.acknowledged(realAck)).toBe(BottleStatus.ACKNOWLEDGED);
  });

  it("names a bottle by (origin, bottle_id): another origin cannot squat an id, at the relay or at the inbox", () => {
    const clock = new FakeClock();
    const online = new Set(["bob"]);
    const hub = node(hubs[0], clock, online);
    const mallory = generateIdentity("mallory");
    const keysWithMallory = new StaticKeys([alice, bob, mallory, ...hubs]);
    const relay = new BottleEngine({ identity: hubs[0], keys: keysWithMallory, clock, world: { isOnline: () => true, hasCapability: () => false }, deliver: (b) => (hub.delivered.push(b), true), sendReceipt: () => {} });
    // mallory guesses alice's next id and drops her own bottle under it first.
    const squat = createBottle(mallory, clock, { to: { agent: "bob" }, payload, bottleId: "alice-0001" });
    const real = createBottle(alice, clock, { to: { agent: "bob" }, payload, bottleId: "alice-0001" });
    expect(relay.accept(squat).duplicate).toBe(false);
    expect(relay.accept(real).duplicate).toBe(false);
    expect(relay.get("alice", "alice-0001")!.origin).toBe("alice");
    expect(relay.get("mallory", "alice-0001")!.origin).toBe("mallory");
    // bob's inbox hands over both: they are different bottles.
    const inbox = new BottleInbox({ identity: bob, keys: keysWithMallory, clock });
    const opened = hub.delivered.map((b) => inbox.receive(b)).filter(Boolean);
    expect(opened.map((o) => o!.origin).sort()).toEqual(["alice", "mallory"]);
    // Each acknowledgement names its origin and settles only its own bottle.
    const aliceAck = opened.find((o) => o!.origin === "alice")!.ack;
    expect(relay.acknowledged(aliceAck)).toBe(BottleStatus.ACKNOWLEDGED);
    expect(relay.get("mallory", "alice-0001")!.status).toBe(BottleStatus.DELIVERED);
  });
});
