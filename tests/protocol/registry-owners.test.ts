// Owner-only registry writes (spec/registry.md "Owners"): replicas merge an entry only when
// its owner wrote it (version.node, one causal counter) and signed it with the key bound to
// its name; remote versions beyond now + skew are refused (605) and never move the clock;
// counters never wrap. The property mixes honest replicas with hostile ones that forge,
// tamper, back-date, future-date and inflate, and checks that no hostile record survives.
import { clone, create } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RegistryDeltaSchema, type RegistryEntry, RegistryEntrySchema } from "../../generated/proto/fleet/v1/registry_pb.js";
import { FakeClock } from "../../runtime/clock.js";
import { identityFromSeed, PinnedKeys, StaticKeys, toHex, type Identity } from "../../runtime/crypto/index.js";
import { ErrorCode, FleetError, isFleetError } from "../../runtime/errors.js";
import { HybridClock, MAX_LOGICAL } from "../../runtime/protocol/hlc.js";
import { type RegistryMessage, type RegistryRefusal, RegistryReplica } from "../../runtime/protocol/registry.js";
import { contentHash } from "../../runtime/protocol/registry-digest.js";
import { MAX_CAUSAL_COUNT, registryOwner, signRegistryEntry, verifyRegistryOwner } from "../../runtime/protocol/registry-owner.js";

const seedOf = (n: number) => Uint8Array.from({ length: 32 }, (_, i) => (n * 31 + i) & 0xff);
const honest = ["h0", "h1", "h2"].map((n, i) => identityFromSeed(n, seedOf(i + 1)));
const hostile = ["x0", "x1"].map((n, i) => identityFromSeed(n, seedOf(i + 10)));
const everyone = () => new StaticKeys([...honest, ...hostile]);
const T0 = 1_800_000_000_000;

function replica(id: Identity, clock: FakeClock, keys = everyone()): RegistryReplica {
  return new RegistryReplica({ node: id.agent, clock, owners: keys, signer: id });
}

/** digest -> snapshot -> delta between two replicas. */
function sync(from: RegistryReplica, to: RegistryReplica): void {
  let queue: { msg: RegistryMessage; at: RegistryReplica; other: RegistryReplica }[] = [{ msg: { case: "registryDigest", value: from.digest() }, at: to, other: from }];
  for (let round = 0; queue.length && round < 4; round++) {
    const next: typeof queue = [];
    for (const q of queue) for (const reply of q.at.receive(q.msg)) next.push({ msg: reply, at: q.other, other: q.at });
    queue = next;
  }
}

const delta = (node: string, entries: RegistryEntry[]): RegistryMessage => ({ case: "registryDelta", value: create(RegistryDeltaSchema, { node, entries }) });

/** An entry as a hostile node would write it, signed by `signer` (or not at all). */
function forged(key: string, record: RegistryEntry["record"], node: string, wallMs: bigint, signer: Identity | undefined, count = 1n): RegistryEntry {
  const e = create(RegistryEntrySchema, { key, version: { wallMs, logical: 0, node }, record, causal: [{ node, count }] });
  return signer ? signRegistryEntry(e, signer) : e;
}

describe("registry: owner-only writes", () => {
  it("refuses, entry by entry, what its owner did not write, and merges the rest", () => {
    const clock = new FakeClock(T0);
    const [a, b] = [replica(honest[0], clock), replica(honest[1], clock)];
    const refused: RegistryRefusal[] = [];
    b.onRefused((r) => refused.push(r));
    const mine = a.putAgent({ agentId: "h0", keyId: honest[0].keyId, publicKey: honest[0].publicKey });
    const agentRecord = (agentId: string, keyId: string): RegistryEntry["record"] => ({ case: "agent", value: { $typeName: "fleet.v1.AgentRecord", agentId, keyId, publicKey: new Uint8Array(), role: 0, capabilities: [], endpoints: [], versions: [], groups: [] } });
    const x = hostile[0];
    const tampered = clone(RegistryEntrySchema, mine);
    if (tampered.record.case === "agent") tampered.record.value.keyId = x.keyId;
    const cases: [RegistryEntry, ErrorCode, string][] = [
      [forged("agent/h0", agentRecord("h0", x.keyId), "x0", BigInt(T0 + 1), x), ErrorCode.SECURITY_UNAUTHORIZED, "/entries/0/version/node"],
      [forged("agent/h0", agentRecord("h0", x.keyId), "h0", BigInt(T0 + 1), x), ErrorCode.SECURITY_KEY_MISMATCH, ""],
      [forged("agent/h0", agentRecord("h0", x.keyId), "h0", BigInt(T0 + 1), undefined), ErrorCode.SECURITY_SIGNATURE_INVALID, "/entries/0/ownerSignature"],
      [tampered, ErrorCode.SECURITY_SIGNATURE_INVALID, "/entries/0/ownerSignature/sig"],
      [forged("agent/x0", agentRecord("x0", x.keyId), "x0", 2n ** 64n - 1n, x), ErrorCode.SECURITY_CLOCK_SKEW, "/entries/0/version/wallMs"],
      [forged("agent/x0", agentRecord("x0", x.keyId), "x0", BigInt(T0 + 120_001), x), ErrorCode.SECURITY_CLOCK_SKEW, "/entries/0/version/wallMs"],
    ];
    for (const [entry, code, pointer] of cases) {
      refused.length = 0;
      expect(b.receive(delta("x0", [entry]))).toEqual([]);
      expect(refused.map((r) => r.error.code)).toEqual([code]);
      if (pointer) expect(refused[0].error.pointer).toBe(pointer);
      expect(b.entries()).toEqual([]);
    }
    // A count past 2^32 is malformed: the whole message is refused.
    expect(() => b.receive(delta("x0", [forged("agent/x0", agentRecord("x0", x.keyId), "x0", BigInt(T0), x, MAX_CAUSAL_COUNT + 1n)]))).toThrow(FleetError);
    // The honest entry beside a forged one still lands; the clock did not jump to 2^64 - 1.
    refused.length = 0;
    b.receive(delta("x0", [cases[4][0], mine]));
    expect(b.get("agent/h0")).toEqual(mine);
    expect(refused.length).toBe(1);
    expect(b.putAgent({ agentId: "h1", keyId: honest[1].keyId }).version!.wallMs).toBe(BigInt(T0));
    // Within the skew bound is fine.
    b.receive(delta("x0", [forged("agent/x0", agentRecord("x0", x.keyId), "x0", BigInt(T0 + 120_000), x)]));
    expect(b.agent("x0")?.keyId).toBe(x.keyId);
  });

  it("refuses an entry signed by a revoked owner key with 611, where an unknown key would be 601", () => {
    const keys = new PinnedKeys();
    keys.pin("h0", honest[0].publicKey);
    const entry = forged("agent/h0", undefined as unknown as RegistryEntry["record"], "h0", BigInt(T0), honest[0]);
    expect(verifyRegistryOwner(entry, keys)).toBe("h0");
    keys.revoke({ agent: "h0", keyId: honest[0].keyId, effectiveAt: T0 });
    let err: FleetError | undefined;
    try {
      verifyRegistryOwner(entry, keys);
    } catch (e) {
      err = e as FleetError;
    }
    expect([err?.code, err?.pointer]).toEqual([ErrorCode.SECURITY_KEY_REVOKED, "/ownerSignature/keyId"]);
    expect(() => verifyRegistryOwner(entry, new PinnedKeys())).toThrow(expect.objectContaining({ code: ErrorCode.SECURITY_SIGNATURE_INVALID }));
  });

  it("writes only its own keys, and a replica without owner keys takes no remote entries", () => {
    const clock = new FakeClock(T0);
    const a = replica(honest[0], clock);
    expect(() => a.putAgent({ agentId: "h1", keyId: "k" })).toThrow(FleetError);
    expect(() => a.remove("health/h1")).toThrow(FleetError);
    a.putHealth({ agentId: "h0", status: 1 });
    const local = new RegistryReplica({ node: "fleet-hub", clock });
    let code: ErrorCode | undefined;
    try {
      local.receive(delta("h0", a.entries()));
    } catch (e) {
      code = isFleetError(e) ? e.code : undefined;
    }
    expect(code).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
  });

  it("counters never wrap: the HLC's logical moves to the next millisecond, the causal count stops at 2^32", () => {
    const clock = new FakeClock(T0);
    const hlc = new HybridClock("n", clock);
    hlc.observe({ $typeName: "fleet.v1.Hlc", wallMs: BigInt(T0), logical: MAX_LOGICAL, node: "m" });
    const next = hlc.now();
    expect([next.wallMs, next.logical]).toEqual([BigInt(T0 + 1), 0]);
    const a = new RegistryReplica({ node: "h0", clock, unverified: true });
    const full = create(RegistryEntrySchema, { key: "agent/h0", version: { wallMs: BigInt(T0), logical: 0, node: "h0" }, record: { case: "agent", value: { agentId: "h0", keyId: "k" } }, causal: [{ node: "h0", count: MAX_CAUSAL_COUNT }] });
    a.merge([full]);
    let code: ErrorCode | undefined;
    try {
      a.putAgent({ agentId: "h0", keyId: "k2" });
    } catch (e) {
      code = isFleetError(e) ? e.code : undefined;
    }
    expect(code).toBe(ErrorCode.VALIDATION_OUT_OF_RANGE);
    expect(a.agent("h0")?.keyId).toBe("k");
  });

  it("property: honest and hostile replicas mix; honest ones converge and hold no hostile record", () => {
    type Op =
      | { t: "write"; who: number; what: number; v: number }
      | { t: "forge"; from: number; to: number; kind: number; victim: number; v: number }
      | { t: "sync"; from: number; to: number }
      | { t: "tick"; ms: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ t: fc.constant("write" as const), who: fc.nat(2), what: fc.nat(3), v: fc.nat(5) }),
      fc.record({ t: fc.constant("forge" as const), from: fc.nat(1), to: fc.nat(2), kind: fc.nat(7), victim: fc.nat(2), v: fc.nat(5) }),
      fc.record({ t: fc.constant("sync" as const), from: fc.nat(2), to: fc.nat(2) }),
      fc.record({ t: fc.constant("tick" as const), ms: fc.nat(3_000) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const clock = new FakeClock(T0);
        const replicas = honest.map((id) => replica(id, clock));
        const written = new Set<string>();
        const note = (e: RegistryEntry) => written.add(toHex(contentHash(e)));
        for (const o of ops) {
          if (o.t === "tick") clock.advance(o.ms);
          else if (o.t === "sync") sync(replicas[o.from], replicas[o.to]);
          else if (o.t === "write") {
            const r = replicas[o.who];
            const me = honest[o.who];
            if (o.what === 0) note(r.putAgent({ agentId: me.agent, keyId: me.keyId, publicKey: me.publicKey, capabilities: [{ name: `c${o.v}` }] }));
            else if (o.what === 1) note(r.putHealth({ agentId: me.agent, status: 1 + (o.v % 3) }));
            else if (o.what === 2) note(r.putService({ serviceId: `svc${o.v % 2}`, agentId: me.agent, endpoint: `e${o.v}` }));
            else if (r.get(`agent/${me.agent}`)) note(r.remove(`agent/${me.agent}`));
          } else {
            const x = hostile[o.from];
            const victim = honest[o.victim];
            const target = replicas[o.to];
            const now = BigInt(clock.now());
            const rec = (agentId: string): RegistryEntry["record"] => ({ case: "agent", value: create(RegistryEntrySchema, { record: { case: "agent", value: { agentId, keyId: x.keyId } } }).record.value as never });
            const stolen = [...replicas[o.victim].entries()].find((e) => registryOwner(e) === victim.agent);
            let entries: RegistryEntry[];
            switch (o.kind) {
              case 0: entries = [forged(`agent/${victim.agent}`, rec(victim.agent), x.agent, now + 1000n, x)]; break; // written by another node
              case 1: entries = [forged(`agent/${victim.agent}`, rec(victim.agent), victim.agent, now + 1000n, x)]; break; // victim's name, hostile key
              case 2: entries = [forged(`health/${victim.agent}`, { case: "health", value: { $typeName: "fleet.v1.HealthRecord", agentId: victim.agent, status: 3, reason: "forged" } }, victim.agent, now + 1000n, undefined)]; break; // unsigned
              case 3: entries = [forged(`service/svc${o.v % 2}`, { case: "service", value: { $typeName: "fleet.v1.ServiceRecord", serviceId: `svc${o.v % 2}`, agentId: victim.agent, endpoint: "evil", description: "" } }, x.agent, now + 1000n, x)]; break; // names the victim as provider
              case 4: entries = [forged(`agent/${x.agent}`, rec(x.agent), x.agent, now + 120_001n + BigInt(o.v), x)]; break; // from the future
              case 5: {
                if (!stolen) return true;
                const t = clone(RegistryEntrySchema, stolen); // tampered after signing
                t.version!.wallMs += 1n;
                entries = [t];
                break;
              }
              case 6: entries = stolen ? [stolen] : []; break; // replaying honest bytes is harmless
              default: entries = [forged(`agent/${x.agent}`, rec(x.agent), x.agent, now, x)]; // its own record: legitimate
            }
            try {
              target.receive(delta(x.agent, entries));
            } catch (e) {
              if (!(e instanceof FleetError)) throw e;
            }
          }
        }
        for (let round = 0; round < 2; round++) for (const a of replicas) for (const b of replicas) if (a !== b) sync(a, b);
        const keys = everyone();
        const root = toHex(replicas[0].digest().rootHash);
        for (const r of replicas) {
          expect(toHex(r.digest().rootHash)).toBe(root);
          for (const e of r.entries()) {
            const owner = verifyRegistryOwner(e, keys);
            expect(e.version!.wallMs <= BigInt(clock.now() + 120_000)).toBe(true);
            if (honest.some((h) => h.agent === owner)) expect(written.has(toHex(contentHash(e)))).toBe(true);
          }
        }
        return true;
      }),
      { numRuns: 150, seed: 11 },
    );
  });
});
