// What a hub client accepts as a delivered bottle: the origin's verified letter, and only
// when every postmark verifies against keys it knows.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ApplicationPayloadSchema } from "../../generated/proto/fleet/v1/payload_pb.js";
import { openDeliveredBottle } from "../../runtime/client/bottles.js";
import { FakeClock } from "../../runtime/clock.js";
import { parseEnvelope } from "../../runtime/crypto/envelope-bytes.js";
import { generateIdentity, openSignedEnvelope, PinnedKeys } from "../../runtime/crypto/index.js";
import { ErrorCode, FleetError } from "../../runtime/errors.js";
import { stampBottle } from "../../runtime/protocol/bottle-postmark.js";
import { createBottle } from "../../runtime/protocol/bottles.js";

const clock = new FakeClock(Date.UTC(2026, 10, 21, 12));
const alpha = generateIdentity("alpha");
const hub = generateIdentity("fleet-hub");
const mallory = generateIdentity("mallory");
const keys = new PinnedKeys();
keys.pin(alpha.agent, alpha.publicKey);
keys.pin(hub.agent, hub.publicKey);
const open = (s: Parameters<typeof openSignedEnvelope>[0]) => Promise.resolve(openSignedEnvelope(s, { keys }));

function stamped(by = hub) {
  const bottle = createBottle(alpha, clock, { to: { agent: "beta" }, condition: "always", payload: create(ApplicationPayloadSchema, { mediaType: "text/plain", content: { case: "data", value: new TextEncoder().encode("hi") } }) });
  const env = parseEnvelope(bottle.letter!.payload, bottle.letter!.payloadType);
  const id = env.body?.kind.case === "bottleLetter" ? env.body.kind.value.bottleId : "";
  return stampBottle(bottle, id, by, clock.now());
}

const code = async (p: Promise<unknown>) => p.then(() => 0, (e: unknown) => (e instanceof FleetError ? e.code : -1));

describe("openDeliveredBottle", () => {
  it("hands over the origin's letter when the hub's postmark verifies", async () => {
    const env = await openDeliveredBottle(stamped(), keys, open);
    expect(env.sender).toBe("alpha");
    expect(env.body?.kind.case).toBe("bottleLetter");
  });

  it("refuses a forged postmark (601) and one by a relay it does not know (601)", async () => {
    const forged = stamped();
    forged.postmarks[0].signature[3] ^= 1;
    expect(await code(openDeliveredBottle(forged, keys, open))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(await code(openDeliveredBottle(stamped(mallory), keys, open))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
  });

  it("refuses a postmark claiming the hub's name with another key (607)", async () => {
    const b = stamped(mallory);
    b.postmarks[0].relay = hub.agent;
    const pinnedBoth = new PinnedKeys();
    pinnedBoth.pin(alpha.agent, alpha.publicKey);
    pinnedBoth.pin(hub.agent, hub.publicKey);
    pinnedBoth.pin(mallory.agent, mallory.publicKey);
    expect(await code(openDeliveredBottle(b, pinnedBoth, open))).toBe(ErrorCode.SECURITY_KEY_MISMATCH);
  });
});
