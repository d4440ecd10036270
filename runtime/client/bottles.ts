// A bottle handed to its recipient by a hub: what the application sees is the origin's
// letter, verified end to end, and only once every relay's postmark (the hub's included)
// verifies against the keys this agent knows.
import type { Bottle } from "../../generated/proto/fleet/v1/bottle_pb.js";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import type { SignedEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import type { KeyResolver } from "../crypto/index.js";
import { ErrorCode, FleetError } from "../errors.js";
import { verifyPostmarks } from "../protocol/bottle-postmark.js";

/** The letter's envelope; throws (601/607 ...) when the letter or a postmark does not verify. */
export async function openDeliveredBottle(bottle: Bottle, keys: KeyResolver, openSigned: (s: SignedEnvelope) => Promise<Envelope>): Promise<Envelope> {
  if (!bottle.letter) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "bottle without a letter", { pointer: "/body/bottle/letter" });
  const env = await openSigned(bottle.letter);
  if (env.body?.kind.case !== "bottleLetter") throw new FleetError(ErrorCode.WIRE_MALFORMED, "a bottle's letter must carry a BottleLetter", { pointer: "/body/bottle/letter" });
  verifyPostmarks(bottle, env.body.kind.value.bottleId, keys);
  return env;
}
