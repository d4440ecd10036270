// X25519 (RFC 7748) for session key agreement: node:crypto when present, @noble/curves otherwise.
import { x25519 } from "@noble/curves/ed25519.js";
import { ErrorCode, FleetError } from "../errors.js";
import { concatBytes, randomBytes } from "./bytes.js";
import { getNodeCrypto } from "./node-crypto.js";

const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00]);

const der = (prefix: Uint8Array, raw: Uint8Array) => Buffer.from(concatBytes(prefix, raw));

function checkLength(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== 32) throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, `X25519 ${what} must be 32 bytes`);
}

export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  checkLength(privateKey, "private key");
  const nc = getNodeCrypto();
  if (nc) {
    const spki = nc.createPublicKey(nc.createPrivateKey({ key: der(PKCS8_PREFIX, privateKey), format: "der", type: "pkcs8" })).export({ format: "der", type: "spki" });
    return new Uint8Array(spki.subarray(spki.length - 32));
  }
  return x25519.getPublicKey(privateKey);
}

/** A fresh ephemeral X25519 key pair (one per handshake, then discarded). */
export function createEphemeral(): { publicKey: Uint8Array; privateKey: Uint8Array } {
  const privateKey = randomBytes(32);
  return { publicKey: x25519PublicKey(privateKey), privateKey };
}

/** The shared secret; 606 for a malformed or small-order peer key (an all-zero result). */
export function x25519SharedSecret(privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
  checkLength(privateKey, "private key");
  checkLength(peerPublicKey, "public key");
  let shared: Uint8Array;
  try {
    const nc = getNodeCrypto();
    if (nc) {
      const b = nc.diffieHellman({
        privateKey: nc.createPrivateKey({ key: der(PKCS8_PREFIX, privateKey), format: "der", type: "pkcs8" }),
        publicKey: nc.createPublicKey({ key: der(SPKI_PREFIX, peerPublicKey), format: "der", type: "spki" }),
      });
      shared = new Uint8Array(b.buffer, b.byteOffset, b.length);
    } else {
      shared = x25519.getSharedSecret(privateKey, peerPublicKey);
    }
  } catch (e) {
    throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, "X25519 key agreement failed (small-order or malformed peer key)", { cause: e });
  }
  let acc = 0;
  for (const b of shared) acc |= b;
  if (acc === 0) throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, "X25519 shared secret is all zero (small-order peer key)");
  return shared;
}
