// Postmarks (spec/signing.md, domain fleet.v1.postmark): each relay signs the bottle id,
// itself, the hop, the time, the previous postmark's signature and SHA-256 of the origin's
// letter bytes, so the chain cannot be reordered, truncated in the middle, or moved to
// another letter.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { sha256 } from "@noble/hashes/sha2.js";
import { type Bottle, type Postmark, PostmarkSchema } from "../../generated/proto/fleet/v1/bottle_pb.js";
import { Domain, type Identity, type KeyResolver, pae, u64be, verifyEd25519 } from "../crypto/index.js";
import { ErrorCode, FleetError } from "../errors.js";

export function postmarkBytes(bottleId: string, p: Pick<Postmark, "relay" | "keyId" | "hop" | "at">, previousSignature: Uint8Array, letterPayload: Uint8Array): Uint8Array {
  return pae(Domain.postmark, bottleId, p.relay, p.keyId, u64be(p.hop), u64be(p.at ? timestampMs(p.at) : 0), previousSignature, sha256(letterPayload));
}

/** A copy of the bottle with this relay's postmark appended (hop = previous + 1). */
export function stampBottle(bottle: Bottle, bottleId: string, relay: Identity, atMs: number): Bottle {
  const prev = bottle.postmarks.at(-1);
  const mark = create(PostmarkSchema, { relay: relay.agent, keyId: relay.keyId, hop: bottle.postmarks.length + 1, at: timestampFromMs(atMs) });
  mark.signature = relay.sign(postmarkBytes(bottleId, mark, prev?.signature ?? new Uint8Array(0), bottle.letter!.payload));
  return { ...bottle, postmarks: [...bottle.postmarks, mark] };
}

/** Verifies every postmark in order; relays must be known to the resolver (601/607 otherwise). */
export function verifyPostmarks(bottle: Bottle, bottleId: string, keys: KeyResolver): void {
  let prev: Uint8Array = new Uint8Array(0);
  bottle.postmarks.forEach((p, i) => {
    const pointer = `/postmarks/${i}`;
    if (p.hop !== i + 1) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `postmark ${i} has hop ${p.hop}`, { pointer: `${pointer}/hop` });
    if (!p.relay || !p.at) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "postmark without relay or time", { pointer });
    const key = keys.resolve(p.keyId);
    if (!key) throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, `unknown relay key ${p.keyId}`, { pointer: `${pointer}/keyId` });
    keys.checkBinding(p.relay, p.keyId);
    if (p.signature.length !== 64 || !verifyEd25519(key, postmarkBytes(bottleId, p, prev, bottle.letter!.payload), p.signature)) {
      throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, `postmark ${i} by ${p.relay} does not verify`, { pointer: `${pointer}/signature` });
    }
    prev = p.signature;
  });
}
