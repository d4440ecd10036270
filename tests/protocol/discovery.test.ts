import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { DiscoveryBeaconSchema } from "../../generated/proto/fleet/v1/discovery_pb.js";
import { SignedEnvelopeSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { FakeClock } from "../../runtime/clock.js";
import { generateIdentity, openSignedEnvelope, PinnedKeys, signEnvelope, StaticKeys } from "../../runtime/crypto/index.js";
import { ErrorCode } from "../../runtime/errors.js";
import { capability } from "../../runtime/protocol/capabilities.js";
import { createBeacon, DiscoveryTable, relayBeacon } from "../../runtime/protocol/discovery.js";
import { codeOf } from "./helpers.js";

const alpha = generateIdentity("alpha");
const beta = generateIdentity("beta");
const relays = Array.from({ length: 6 }, (_, i) => generateIdentity(`relay-${i}`));
const relayKeys = () => new StaticKeys(relays);

describe("discovery", () => {
  it("accepts a self-introducing signed beacon, dedupes, keeps the newest, finds by capability", () => {
    const clock = new FakeClock();
    const table = new DiscoveryTable({ clock, keys: relayKeys() });
    const b1 = createBeacon(alpha, clock, { capabilities: [capability("compute", "2"), capability("store")] });
    expect(table.receive(b1).status).toBe("new");
    expect(table.receive(b1).status).toBe("duplicate");
    table.receive(createBeacon(beta, clock, { capabilities: [capability("store")] }));
    expect(table.findByCapability("compute").map((a) => a.agent)).toEqual(["alpha"]);
    expect(table.findByCapability(capability("compute", "1"))).toEqual([]);
    expect(table.findByCapability("store").map((a) => a.agent)).toEqual(["alpha", "beta"]);
    clock.advance(1_000);
    const b2 = createBeacon(alpha, clock, { capabilities: [capability("gpu")] });
    expect(table.receive(b2).status).toBe("new");
    expect(table.receive(b1).status).toBe("stale");
    expect(table.findByCapability("compute")).toEqual([]);
    expect(table.findByCapability("gpu").map((a) => a.agent)).toEqual(["alpha"]);
    clock.advance(40_000);
    expect(table.list()).toEqual([]);
    expect(table.prune().sort()).toEqual(["alpha", "beta"]);
  });

  it("relays re-wrap beacons with a hop count; the original stays verifiable; past 5 hops is 304", () => {
    const clock = new FakeClock();
    const original = createBeacon(alpha, clock, { capabilities: [capability("compute")] });
    // A chain of relay tables: each one floods the copy it produced to the next.
    let msg = original;
    for (let hop = 0; hop < 5; hop++) {
      const table = new DiscoveryTable({ clock, keys: relayKeys(), relay: relays[hop] });
      const out = table.receive(msg);
      expect(out.status).toBe("new");
      if (out.status !== "new") return;
      expect(out.agent.hops).toBe(hop);
      expect(out.agent.signed.payload).toEqual(original.payload); // the agent's bytes, intact
      msg = out.relay!;
    }
    const fifth = new DiscoveryTable({ clock, keys: relayKeys(), relay: relays[5] });
    const last = fifth.receive(msg);
    expect(last.status === "new" && last.agent.hops).toBe(5);
    expect(last.status === "new" && last.relay).toBeUndefined(); // not flooded past the limit
    const env = openSignedEnvelope(msg, { keys: relayKeys() });
    const body = env.body!.kind.value as ReturnType<typeof create<typeof DiscoveryBeaconSchema>>;
    const sixth = relayBeaconUnchecked(body, 6);
    expect(codeOf(() => new DiscoveryTable({ clock, keys: relayKeys() }).receive(sixth))).toBe(ErrorCode.DISCOVERY_HOP_LIMIT);
    expect(codeOf(() => relayBeacon(original, body, 6, relays[0], clock))).toBe(ErrorCode.DISCOVERY_HOP_LIMIT);

    function relayBeaconUnchecked(b: typeof body, hopCount: number) {
      const e = openSignedEnvelope(msg, { keys: relayKeys() });
      e.id = "forged-hop";
      e.security!.nonce = new Uint8Array(0);
      e.body = { $typeName: "fleet.v1.Body", kind: { case: "discoveryBeacon", value: create(DiscoveryBeaconSchema, { ...b, hopCount }) } };
      return signEnvelope(e, relays[4]); // the last relay, forging one hop too many
    }
  });

  it("rejects forged, tampered, unsigned and impersonating beacons and changes nothing", () => {
    const clock = new FakeClock();
    const pins = new PinnedKeys();
    pins.pin("alpha", alpha.publicKey);
    const table = new DiscoveryTable({ clock, keys: pins });
    const good = createBeacon(alpha, clock);
    // Tampered payload: signature no longer verifies.
    const tampered = create(SignedEnvelopeSchema, { ...good, payload: good.payload.slice() });
    tampered.payload[tampered.payload.length - 1] ^= 1;
    expect(codeOf(() => table.receive(tampered))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    // Unsigned.
    expect(codeOf(() => table.receive(create(SignedEnvelopeSchema, { payloadType: good.payloadType, payload: good.payload })))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    // Another key claiming a pinned name.
    const impostor = generateIdentity("alpha");
    expect(codeOf(() => table.receive(createBeacon(impostor, clock)))).toBe(ErrorCode.SECURITY_KEY_MISMATCH);
    // A relayed copy from an unknown relay.
    const relayed = relayBeacon(good, openBeacon(good), 1, generateIdentity("stranger"), clock);
    expect(codeOf(() => table.receive(relayed))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(table.list()).toEqual([]);
    expect(table.receive(good).status).toBe("new");
  });
});

function openBeacon(s: ReturnType<typeof createBeacon>) {
  const env = openSignedEnvelope(s, { keys: new StaticKeys([alpha]) });
  if (env.body?.kind.case !== "discoveryBeacon") throw new Error("not a beacon");
  return env.body.kind.value;
}
