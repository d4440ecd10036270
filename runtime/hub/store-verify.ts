// With HubOptions.verify "none" the hub forwards signed packets to online recipients
// unverified (they verify end to end and drop forgeries; nothing stays behind). What it
// STORES is different: a row the recipient can never accept would come back on every
// reconnect until its ttl. So a signed packet is verified against its connection's key
// before it is stored (measured in bench/suites/stress.ts beside the acked path it joins).
import { decodePacket } from "../codec/index.js";
import { envelopeSigningBytes } from "../crypto/envelope-sign.js";
import { verifyEd25519 } from "../crypto/ed25519.js";
import { ErrorCode, FleetError } from "../errors.js";

/** Throws 601 unless packet is a signed Packet whose Ed25519 signature verifies under publicKey. */
export function verifyBeforeStore(packet: Uint8Array, publicKey: Uint8Array): void {
  const p = decodePacket(packet);
  const s = p.kind.case === "signed" ? p.kind.value : undefined;
  const sig = s?.signature?.sig;
  if (!s || !sig || !verifyEd25519(publicKey, envelopeSigningBytes(s.payloadType, s.payload), sig)) {
    throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, "signature does not verify: not stored", { pointer: "/signature/sig" });
  }
}
