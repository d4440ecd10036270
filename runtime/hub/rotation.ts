// Key rotation at the hub (spec/signing.md "Name-to-key pinning and rotation"): a KeyRotation
// sent to fleet:hub, signed by the agent's pinned key and proven by the new key, moves the
// pinned binding (durably, before the receipt) and the registry record to the new key. The
// connection authenticated by the old key then ends: the agent reconnects with the new key,
// and the old one is refused from then on (607 at the handshake, 601 for its signatures).
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { decodePacket } from "../codec/index.js";
import { checkFreshness, openSignedEnvelope } from "../crypto/index.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import type { Hub } from "./hub.js";
import type { Incoming } from "./peer.js";

export function rotateKey(hub: Hub, msg: Incoming): void {
  const { peer } = msg;
  // Always verified here, whatever HubOptions.verify says: this message changes trust.
  const packet = msg.signed ? decodePacket(msg.packet) : undefined;
  if (packet?.kind.case !== "signed") throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, "a key rotation must be a signed envelope (signed by the old key)", { pointer: "/signature" });
  const env = openSignedEnvelope(packet.kind.value, { keys: hub.pins });
  checkFreshness(env, hub.clock.now(), hub.options.skewMs);
  // Throws 607 (606 for a malformed key) and changes nothing unless every check passes;
  // the pin store writes through to SQLite (synchronous=FULL) before it returns.
  const pin = hub.pins.applyRotation(env);
  hub.log(`rotated ${pin.agent} ${peer.keyId} -> ${pin.keyId}`);
  const prev = hub.registry.agent(pin.agent);
  try {
    hub.registry.putAgent({ ...(prev ?? { agentId: pin.agent, versions: ["3.0"] }), keyId: pin.keyId, publicKey: pin.publicKey });
  } catch (e) {
    // The pin is the authority; the record is rewritten at the agent's next handshake anyway.
    hub.log(`registry write failed: ${asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, "registry").message}`);
  }
  hub.receipt(peer, env, ReceiptStatus.ACCEPTED);
  hub.release(peer);
}

/**
 * Key revocation at the hub (spec/signing.md "Revocation"): a KeyRevocation sent to
 * fleet:hub, signed by the revoked key (the agent's pinned one), unbinds the name and records
 * the key as revoked (one transaction, before the receipt); the agent's registry record goes,
 * and its connection ends. From then on the key is refused (611) and the name is re-enrolled
 * only with an admission token bound to the new key, even on an open hub (admission.ts).
 */
export function revokeKey(hub: Hub, msg: Incoming): void {
  const { peer } = msg;
  const packet = msg.signed ? decodePacket(msg.packet) : undefined;
  if (packet?.kind.case !== "signed") throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, "a key revocation must be a signed envelope (signed by the revoked key)", { pointer: "/signature" });
  const env = openSignedEnvelope(packet.kind.value, { keys: hub.pins });
  checkFreshness(env, hub.clock.now(), hub.options.skewMs);
  const r = hub.pins.applyRevocation(env);
  hub.log(`revoked ${r.agent} ${r.keyId} (effective ${new Date(r.effectiveAt).toISOString()})`);
  try {
    if (hub.registry.get(`agent/${r.agent}`)) hub.registry.remove(`agent/${r.agent}`);
  } catch (e) {
    hub.log(`registry write failed: ${asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, "registry").message}`);
  }
  hub.receipt(peer, env, ReceiptStatus.ACCEPTED);
  hub.release(peer);
}

