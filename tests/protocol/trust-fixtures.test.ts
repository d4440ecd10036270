// fixtures/trust.json read as an implementer would: every vector checked against the
// runtime from the file's bytes and the spec's rules alone.
import { readFileSync } from "node:fs";
import { fromBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { RegistryEntrySchema } from "../../generated/proto/fleet/v1/registry_pb.js";
import { BottleSchema } from "../../generated/proto/fleet/v1/bottle_pb.js";
import { BottleEngine } from "../../runtime/protocol/bottles.js";
import { agreeHeartbeat } from "../../runtime/protocol/heartbeat.js";
import { create } from "@bufbuild/protobuf";
import { HeartbeatParamsSchema } from "../../generated/proto/fleet/v1/handshake_pb.js";
import { SignedEnvelopeSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { openSignedEnvelope, PinnedKeys } from "../../runtime/crypto/index.js";
import { ErrorCode } from "../../runtime/errors.js";
import { identityFromSeed } from "../../runtime/crypto/index.js";
import { FakeClock } from "../../runtime/clock.js";
import { fromHex, StaticKeys, toHex, verifyEd25519 } from "../../runtime/crypto/index.js";
import { isFleetError } from "../../runtime/errors.js";
import { type RegistryRefusal, RegistryReplica } from "../../runtime/protocol/registry.js";
import { contentHash, entryHash } from "../../runtime/protocol/registry-digest.js";
import { ownerSigningBytes, verifyRegistryOwner } from "../../runtime/protocol/registry-owner.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const fx: any = JSON.parse(readFileSync(new URL("../../fixtures/trust.json", import.meta.url), "utf8"));
const keys = () => new StaticKeys(fx.keys.map((k: { agent: string; public_key_hex: string }) => ({ agent: k.agent, publicKey: fromHex(k.public_key_hex) })));

describe("fixtures/trust.json", () => {
  it("registry: the owner-signed entry checks byte for byte", () => {
    const v = fx.registry.owner_signed;
    const e = fromBinary(RegistryEntrySchema, fromHex(v.entry_hex));
    expect(toHex(contentHash(e))).toBe(v.content_hash_hex);
    expect(toHex(entryHash(e))).toBe(v.entry_hash_hex);
    expect(toHex(ownerSigningBytes(e))).toBe(v.owner_signed_hex);
    const key = fx.keys.find((k: { key_id: string }) => k.key_id === v.key_id);
    expect(verifyEd25519(fromHex(key.public_key_hex), fromHex(v.owner_signed_hex), fromHex(v.sig_hex))).toBe(true);
    expect(verifyRegistryOwner(e, keys())).toBe(v.owner);
    const r = new RegistryReplica({ node: "verifier", clock: new FakeClock(v.now_ms), owners: keys() });
    expect(r.merge([e])).toEqual([e.key]);
  });

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  it.each(fx.registry.negative.map((v: any) => [v.name, v]) as [string, any][])("registry negative: %s", (_n, v) => {
    const e = fromBinary(RegistryEntrySchema, fromHex(v.entry_hex));
    const r = new RegistryReplica({ node: "verifier", clock: new FakeClock(v.now_ms), owners: keys() });
    const refused: RegistryRefusal[] = [];
    r.onRefused((x) => refused.push(x));
    let got: { code: number; pointer: string } | undefined;
    try {
      r.merge([e]);
      if (refused[0]) got = { code: refused[0].error.code, pointer: refused[0].error.pointer ?? "" };
    } catch (err) {
      if (isFleetError(err)) got = { code: err.code, pointer: err.pointer ?? "" };
    }
    expect(got).toEqual({ code: v.code, pointer: `/entries/0${v.pointer}` });
    expect(r.entries()).toEqual([]);
  });

  it("bottles: one id from two origins is two bottles", () => {
    const b = fx.bottles;
    const relay = new BottleEngine({ identity: identityFromSeed("relay", new Uint8Array(32).fill(9)), keys: keys(), clock: new FakeClock(b.now_ms), world: { isOnline: () => false, hasCapability: () => false }, deliver: () => false, sendReceipt: () => {} });
    for (const v of b.same_id) expect(relay.accept(fromBinary(BottleSchema, fromHex(v.bottle_hex))).duplicate).toBe(false);
    for (const v of b.same_id) {
      expect(relay.get(v.origin, v.bottle_id)?.origin).toBe(v.origin);
      expect(relay.accept(fromBinary(BottleSchema, fromHex(v.bottle_hex))).duplicate).toBe(true);
    }
  });

  it("heartbeat: both sides compute the stated agreement", () => {
    type Hb = { interval_ms: number; degraded_after_ms: number; suspect_after_ms: number; dead_after_ms: number };
    const p = (v: Hb) => create(HeartbeatParamsSchema, { intervalMs: v.interval_ms, degradedAfterMs: v.degraded_after_ms, suspectAfterMs: v.suspect_after_ms, deadAfterMs: v.dead_after_ms });
    for (const v of fx.heartbeat) {
      for (const r of [agreeHeartbeat(p(v.hello), p(v.welcome)), agreeHeartbeat(p(v.welcome), p(v.hello))]) {
        expect({ interval_ms: r.intervalMs, degraded_after_ms: r.degradedAfterMs, suspect_after_ms: r.suspectAfterMs, dead_after_ms: r.deadAfterMs }).toEqual(v.agreed);
      }
    }
  });

  it("revocation: the valid statement unbinds the key for good; the negatives change nothing", () => {
    const v = fx.revocation;
    const pinned = () => {
      const p = new PinnedKeys();
      for (const k of fx.keys) p.pin(k.agent, fromHex(k.public_key_hex));
      return p;
    };
    const clock = new FakeClock(v.now_ms);
    for (const n of v.negative) {
      const p = pinned();
      let code: number | undefined;
      try {
        p.applyRevocation(openSignedEnvelope(fromBinary(SignedEnvelopeSchema, fromHex(n.signed_envelope_hex)), { keys: p, clock }));
      } catch (e) {
        code = isFleetError(e) ? e.code : -1;
      }
      expect(code).toBe(n.code);
      expect(p.keyIdOf("agent-alice")).toBe(v.applied.revoked_key_id);
    }
    const p = pinned();
    const signed = fromBinary(SignedEnvelopeSchema, fromHex(v.applied.signed_envelope_hex));
    const r = p.applyRevocation(openSignedEnvelope(signed, { keys: p, clock }));
    expect([r.keyId, r.effectiveAt]).toEqual([v.applied.revoked_key_id, v.applied.effective_at_ms]);
    expect(p.keyIdOf("agent-alice")).toBeUndefined();
    let code: number | undefined;
    try {
      openSignedEnvelope(signed, { keys: p, clock });
    } catch (e) {
      code = isFleetError(e) ? e.code : -1;
    }
    expect(code).toBe(ErrorCode.SECURITY_KEY_REVOKED);
    const alice = fx.keys.find((k: { agent: string }) => k.agent === "agent-alice");
    expect(() => p.pin("anyone", fromHex(alice.public_key_hex))).toThrow(/revoked/);
  });
});
