import { create } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RegistryDigestSchema, type RegistryEntry, RegistryEntrySchema, RegistryQuerySchema } from "../../generated/proto/fleet/v1/registry_pb.js";
import { FakeClock } from "../../runtime/clock.js";
import { ErrorCode, FleetError } from "../../runtime/errors.js";

import { type RegistryConflict, type RegistryMessage, RegistryReplica } from "../../runtime/protocol/registry.js";
import { compareHlc } from "../../runtime/protocol/hlc.js";
import { bytesHex } from "./helpers.js";

function pair() {
  const clock = new FakeClock();
  return { clock, a: new RegistryReplica({ node: "hub-a", clock, unverified: true }), b: new RegistryReplica({ node: "hub-b", clock, unverified: true }) };
}

/** Runs digest -> snapshot -> delta between two replicas; returns how many messages crossed. */
function syncPair(from: RegistryReplica, to: RegistryReplica): number {
  let count = 1;
  let queue: { msg: RegistryMessage; at: RegistryReplica; other: RegistryReplica }[] = [{ msg: { case: "registryDigest", value: from.digest() }, at: to, other: from }];
  while (queue.length) {
    const next: typeof queue = [];
    for (const q of queue) for (const reply of q.at.receive(q.msg)) next.push({ msg: reply, at: q.other, other: q.at });
    count += next.length;
    queue = next;
  }
  return count;
}


describe("registry replica", () => {
  it("replicates agents, services and health, and in-sync replicas exchange only a hash", () => {
    const { a, b } = pair();
    a.putAgent({ agentId: "alpha", keyId: "ed25519:x", capabilities: [{ name: "compute" }] });
    a.putService({ serviceId: "render", agentId: "alpha" });
    b.putHealth({ agentId: "alpha", status: 1 });
    expect(syncPair(a, b)).toBe(3); // digest, snapshot, delta
    expect(a.digest().rootHash).toEqual(b.digest().rootHash);
    expect(b.agent("alpha")?.capabilities[0].name).toBe("compute");
    expect(a.health("alpha")?.status).toBe(1);
    expect(syncPair(a, b)).toBe(1); // only the digest: roots match
    expect(b.query(create(RegistryQuerySchema, { capability: "compute" })).agents.map((x) => x.agentId)).toEqual(["alpha"]);
  });

  it("propagates deletions as tombstones", () => {
    const { a, b, clock } = pair();
    a.putAgent({ agentId: "alpha", keyId: "k" });
    syncPair(a, b);
    clock.advance(5);
    b.remove("agent/alpha");
    syncPair(b, a);
    expect(a.agent("alpha")).toBeUndefined();
    expect(a.get("agent/alpha")?.tombstone).toBe(true);
    expect(a.digest().rootHash).toEqual(b.digest().rootHash);
  });

  it("resolves concurrent writes identically everywhere and reports 502", () => {
    const { a, b, clock } = pair();
    const seen: RegistryConflict[] = [];
    a.onConflict((c) => seen.push(c));
    b.onConflict((c) => seen.push(c));
    a.putAgent({ agentId: "alpha", keyId: "from-a" });
    clock.advance(1);
    b.putAgent({ agentId: "alpha", keyId: "from-b" }); // b never saw a's write: concurrent
    syncPair(a, b);
    expect(a.agent("alpha")?.keyId).toBe("from-b"); // later HLC wins
    expect(b.agent("alpha")?.keyId).toBe("from-b");
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[0].error.code).toBe(ErrorCode.REGISTRY_CONFLICT);
    expect(a.digest().rootHash).toEqual(b.digest().rootHash);
    // A write made after seeing the other is not a conflict.
    seen.length = 0;
    clock.advance(1);
    a.putAgent({ agentId: "alpha", keyId: "from-a-2" });
    syncPair(a, b);
    expect(seen).toEqual([]);
    expect(b.agent("alpha")?.keyId).toBe("from-a-2");
  });

  it("sends deltas of changes since a mark", () => {
    const { a, b } = pair();
    a.putAgent({ agentId: "one", keyId: "k" });
    const mark = a.changeMark;
    a.putAgent({ agentId: "two", keyId: "k" });
    const delta = a.deltaSince(mark);
    expect(delta.entries.map((e) => e.key)).toEqual(["agent/two"]);
    b.receive({ case: "registryDelta", value: delta });
    expect(b.agent("two")).toBeDefined();
    expect(b.agent("one")).toBeUndefined();
  });

  it("rejects malformed messages without changing anything", () => {
    const { a } = pair();
    a.putAgent({ agentId: "alpha", keyId: "k" });
    const before = a.digest().rootHash;
    const bad = (msg: RegistryMessage, code: ErrorCode) => {
      let err: unknown;
      try {
        a.receive(msg);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FleetError);
      expect((err as FleetError).code).toBe(code);
      expect(a.digest().rootHash).toEqual(before);
    };
    bad({ case: "registryDigest", value: create(RegistryDigestSchema, { node: "x", rootHash: new Uint8Array(3) }) }, ErrorCode.VALIDATION_OUT_OF_RANGE);
    bad({ case: "registryDigest", value: create(RegistryDigestSchema, { rootHash: new Uint8Array(32) }) }, ErrorCode.VALIDATION_MISSING_FIELD);
    const good = create(RegistryEntrySchema, { key: "agent/beta", version: { wallMs: 1n, node: "hub-x" }, record: { case: "agent", value: { agentId: "beta" } } });
    const noVersion = create(RegistryEntrySchema, { key: "agent/gamma", record: { case: "agent", value: { agentId: "gamma" } } });
    bad({ case: "registryDelta", value: { $typeName: "fleet.v1.RegistryDelta", node: "x", entries: [good, noVersion] } }, ErrorCode.VALIDATION_MISSING_FIELD);
    const wrongId = create(RegistryEntrySchema, { key: "agent/beta", version: { wallMs: 1n, node: "hub-x" }, record: { case: "agent", value: { agentId: "other" } } });
    bad({ case: "registryDelta", value: { $typeName: "fleet.v1.RegistryDelta", node: "x", entries: [wrongId] } }, ErrorCode.VALIDATION_OUT_OF_RANGE);
    expect(a.agent("beta")).toBeUndefined();
  });

  it("property: replicas converge after random ops, lossy/duplicating/reordering delivery, then sync rounds", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("put" as const), at: fc.nat(3), id: fc.constantFrom("a", "b", "c", "d"), val: fc.string({ maxLength: 3 }) }),
      fc.record({ kind: fc.constant("del" as const), at: fc.nat(3), id: fc.constantFrom("a", "b", "c", "d") }),
      fc.record({ kind: fc.constant("gossip" as const), at: fc.nat(3), to: fc.nat(3) }),
      fc.record({ kind: fc.constant("deliver" as const), pick: fc.nat(), fate: fc.constantFrom("ok", "drop", "dup") }),
      fc.record({ kind: fc.constant("tick" as const), ms: fc.integer({ min: 0, max: 3 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 4 }), fc.array(op, { maxLength: 60 }), (n, ops) => {
        const clock = new FakeClock();
        const replicas = Array.from({ length: n }, (_, i) => new RegistryReplica({ node: `node-${i}`, clock, unverified: true }));
        const inflight: { to: number; from: number; msg: RegistryMessage }[] = [];
        const writes: RegistryEntry[] = [];
        const post = (from: number, to: number, msgs: RegistryMessage[]) => msgs.forEach((msg) => inflight.push({ from, to, msg }));
        for (const o of ops) {
          if (o.kind === "put") writes.push(replicas[o.at % n].putAgent({ agentId: o.id, keyId: o.val }));
          else if (o.kind === "del") writes.push(replicas[o.at % n].remove(`agent/${o.id}`));
          else if (o.kind === "gossip") post(o.at % n, o.to % n, [{ case: "registryDigest", value: replicas[o.at % n].digest() }]);
          else if (o.kind === "tick") clock.advance(o.ms);
          else if (inflight.length) {
            const [m] = inflight.splice(o.pick % inflight.length, 1); // random order
            if (o.fate === "drop") continue;
            if (o.fate === "dup") inflight.push(m);
            post(m.to, m.from, replicas[m.to].receive(m.msg));
          }
        }
        // Reliable sync rounds: every ordered pair, until nothing changes (bounded).
        for (let round = 0; round < 3; round++) {
          for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) syncPair(replicas[i], replicas[j]);
        }
        const roots = replicas.map((r) => bytesHex(r.digest().rootHash));
        expect(new Set(roots).size).toBe(1);
        const views = replicas.map((r) => JSON.stringify(r.entries().map((e) => [e.key, e.tombstone, e.version?.node, String(e.version?.wallMs), e.version?.logical, e.record.case === "agent" ? e.record.value.keyId : null])));
        expect(new Set(views).size).toBe(1);
        // And the state is the one every correct merge order gives: per key, the write with the largest HLC.
        const expected = new Map<string, RegistryEntry>();
        for (const w of writes) if (!expected.has(w.key) || compareHlc(w.version!, expected.get(w.key)!.version!) > 0) expected.set(w.key, w);
        const view = (e: RegistryEntry) => [e.key, e.tombstone, e.version?.node, String(e.version?.wallMs), e.version?.logical];
        expect(replicas[0].entries().map(view)).toEqual([...expected.values()].sort((x, y) => (x.key < y.key ? -1 : 1)).map(view));
      }),
      { numRuns: 150, seed: 4242 },
    );
  });
});
