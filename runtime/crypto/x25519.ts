// X25519 (RFC 7748) for session key agreement: node:crypto when present; in browsers
// WebCrypto (createEphemeralAsync) where it has X25519, RFC 7748's ladder otherwise
// (x25519-ladder.ts).
// On node:crypto, importing a key from DER is most of the cost (OpenSSL's decoder lookup,
// ~0.4 ms for a PKCS#8 private key): ephemerals are generated as KeyObjects and kept, and
// keys cross the boundary as JWK, which node:crypto reads and writes without a decoder.
import { ErrorCode, FleetError } from "../errors.js";
import { concatBytes, fromBase64Url, randomBytes, toBase64Url } from "./bytes.js";
import { getNodeCrypto } from "./node-crypto.js";
import type { WebCryptoBytes, WebCryptoKeyPair } from "./webcrypto-types.js";
import { x25519Ladder, x25519LadderPublicKey } from "./x25519-ladder.js";

type NodeCrypto = NonNullable<ReturnType<typeof getNodeCrypto>>;
type NodeKey = ReturnType<NodeCrypto["createPrivateKey"]>;

const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);

const der = (prefix: Uint8Array, raw: Uint8Array) => Buffer.from(concatBytes(prefix, raw));

/**
 * The node:crypto KeyObject of each private key createEphemeral generated, keyed by the
 * identity of its bytes, so agreeing needs no re-import. Weak: it lives as long as the
 * bytes; nothing is attached to the returned object (it logs and serializes as before).
 * The copy detects bytes changed in place since, which then take the import path.
 */
const generatedKeys = new WeakMap<Uint8Array, { key: NodeKey; bytes: Uint8Array }>();

function nodePrivateKey(nc: NodeCrypto, privateKey: Uint8Array): NodeKey {
  const cached = generatedKeys.get(privateKey);
  if (cached && sameBytes(cached.bytes, privateKey)) return cached.key;
  return nc.createPrivateKey({ key: der(PKCS8_PREFIX, privateKey), format: "der", type: "pkcs8" });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function checkLength(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== 32) throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, `X25519 ${what} must be 32 bytes`);
}

export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  checkLength(privateKey, "private key");
  const nc = getNodeCrypto();
  if (nc) return fromBase64Url(nc.createPublicKey(nodePrivateKey(nc, privateKey)).export({ format: "jwk" }).x!);
  return x25519LadderPublicKey(privateKey);
}

/** A fresh ephemeral X25519 key pair (one per handshake, then discarded). */
export function createEphemeral(): { publicKey: Uint8Array; privateKey: Uint8Array } {
  const nc = getNodeCrypto();
  if (!nc) {
    const privateKey = randomBytes(32);
    return { publicKey: x25519LadderPublicKey(privateKey), privateKey };
  }
  const key = nc.generateKeyPairSync("x25519").privateKey;
  const jwk = key.export({ format: "jwk" });
  const privateKey = fromBase64Url(jwk.d!);
  generatedKeys.set(privateKey, { key, bytes: privateKey.slice() });
  return { publicKey: fromBase64Url(jwk.x!), privateKey };
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
        privateKey: nodePrivateKey(nc, privateKey),
        publicKey: nc.createPublicKey({ key: { kty: "OKP", crv: "X25519", x: toBase64Url(peerPublicKey) }, format: "jwk" }),
      });
      shared = new Uint8Array(b.buffer, b.byteOffset, b.length);
    } else {
      shared = x25519Ladder(privateKey, peerPublicKey);
    }
  } catch (e) {
    throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, "X25519 key agreement failed (small-order or malformed peer key)", { cause: e });
  }
  assertNonZero(shared);
  return shared;
}

function assertNonZero(shared: Uint8Array): void {
  let acc = 0;
  for (const b of shared) acc |= b;
  if (acc === 0) throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, "X25519 shared secret is all zero (small-order peer key)");
}

/**
 * An ephemeral key pair whose private half may be an opaque WebCrypto key: it only agrees.
 * `agreeSync` exists when the private key is bytes (node:crypto or the ladder), for sync callers.
 */
export interface EphemeralKey {
  readonly publicKey: Uint8Array;
  agree(peerPublicKey: Uint8Array): Promise<Uint8Array>;
  agreeSync?(peerPublicKey: Uint8Array): Uint8Array;
}

/** createEphemeral as an EphemeralKey (node:crypto or the ladder, synchronous). */
export function createEphemeralKey(): EphemeralKey {
  const { publicKey, privateKey } = createEphemeral();
  const agreeSync = (peer: Uint8Array) => x25519SharedSecret(privateKey, peer);
  return { publicKey, agreeSync, agree: async (peer) => agreeSync(peer) };
}

let webX25519Probe: Promise<boolean> | undefined;

/** Whether WebCrypto implements X25519 here (feature-detected once). */
export function webCryptoHasX25519(): Promise<boolean> {
  webX25519Probe ??= (async () => {
    try {
      const subtle = globalThis.crypto?.subtle;
      if (!subtle) return false;
      await subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]);
      return true;
    } catch {
      return false;
    }
  })();
  return webX25519Probe;
}

/**
 * A fresh ephemeral key: node:crypto on Node, else WebCrypto X25519 (non-extractable private
 * key) where the browser has it, else the ladder. Same shared secrets as x25519SharedSecret.
 */
export async function createEphemeralAsync(): Promise<EphemeralKey> {
  if (getNodeCrypto() || !(await webCryptoHasX25519())) return createEphemeralKey();
  const subtle = globalThis.crypto.subtle;
  const pair = (await subtle.generateKey({ name: "X25519" }, false, ["deriveBits"])) as WebCryptoKeyPair;
  const publicKey = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
  return {
    publicKey,
    async agree(peer) {
      checkLength(peer, "public key");
      let shared: Uint8Array;
      try {
        const peerKey = await subtle.importKey("raw", peer.slice() as WebCryptoBytes, { name: "X25519" }, false, []);
        shared = new Uint8Array(await subtle.deriveBits({ name: "X25519", public: peerKey }, pair.privateKey, 256));
      } catch (e) {
        throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, "X25519 key agreement failed (small-order or malformed peer key)", { cause: e });
      }
      assertNonZero(shared);
      return shared;
    },
  };
}
