// X25519 ephemerals on node:crypto are generated as KeyObjects and kept (no PKCS#8 re-import
// when agreeing); the secrets must still be exactly those of @noble and WebCrypto.
import * as realNodeCrypto from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import {
  createEphemeral,
  createEphemeralAsync,
  createEphemeralKey,
  deriveSession,
  transcriptHash,
  webCryptoHasX25519,
  x25519PublicKey,
  x25519SharedSecret,
} from "../../runtime/crypto/index.js";
import { toHex } from "../../runtime/crypto/bytes.js";
import { getNodeCrypto, registerNodeCrypto, setNodeCryptoDisabled } from "../../runtime/crypto/node-crypto.js";
import { ErrorCode } from "../../runtime/errors.js";

const original = getNodeCrypto()!;
afterEach(() => {
  registerNodeCrypto(original);
  setNodeCryptoDisabled(false);
});

/** Registers a node:crypto that counts private-key imports (the cost the cache avoids). */
function countImports(): { count: () => number } {
  let n = 0;
  registerNodeCrypto({
    ...realNodeCrypto,
    createPrivateKey: ((...args: Parameters<typeof realNodeCrypto.createPrivateKey>) => {
      n++;
      return realNodeCrypto.createPrivateKey(...args);
    }) as typeof realNodeCrypto.createPrivateKey,
  });
  return { count: () => n };
}

const PKCS8_X25519 = Buffer.from("302e020100300506032b656e04220420", "hex");

/** WebCrypto's shared secret from raw private bytes (imported as PKCS#8). */
async function webCryptoSecret(privateKey: Uint8Array, peer: Uint8Array): Promise<string> {
  const subtle = globalThis.crypto.subtle;
  const priv = await subtle.importKey("pkcs8", Buffer.concat([PKCS8_X25519, privateKey]), { name: "X25519" }, false, ["deriveBits"]);
  const pub = await subtle.importKey("raw", Buffer.from(peer), { name: "X25519" }, false, []);
  return toHex(new Uint8Array(await subtle.deriveBits({ name: "X25519", public: pub }, priv, 256)));
}

function withNodeDisabled<T>(fn: () => T): T {
  setNodeCryptoDisabled(true);
  try {
    return fn();
  } finally {
    setNodeCryptoDisabled(false);
  }
}

describe("X25519 on node:crypto: generated keys are kept", () => {
  it("agrees with a generated private key without importing it", () => {
    const imports = countImports();
    const a = createEphemeral();
    const b = createEphemeral();
    const ab = x25519SharedSecret(a.privateKey, b.publicKey);
    const ba = x25519SharedSecret(b.privateKey, a.publicKey);
    expect(toHex(ab)).toBe(toHex(ba));
    expect(toHex(x25519PublicKey(a.privateKey))).toBe(toHex(a.publicKey));
    expect(imports.count()).toBe(0);
    // A session derived from createEphemeral's bytes takes the same path.
    deriveSession({ role: "initiator", sessionId: "s", ourEphemeralPrivate: a.privateKey, theirEphemeralPublic: b.publicKey, transcript: transcriptHash() });
    expect(imports.count()).toBe(0);
  });

  it("createEphemeralKey (the handshake's) agrees without any import", () => {
    const imports = countImports();
    const a = createEphemeralKey();
    const b = createEphemeralKey();
    expect(toHex(a.agreeSync!(b.publicKey))).toBe(toHex(b.agreeSync!(a.publicKey)));
    expect(imports.count()).toBe(0);
  });

  it("bytes that are not a kept key (a copy, or changed in place) are imported, with the right result", () => {
    const imports = countImports();
    const a = createEphemeral();
    const b = createEphemeral();
    const expected = toHex(x25519SharedSecret(a.privateKey, b.publicKey));
    expect(toHex(x25519SharedSecret(a.privateKey.slice(), b.publicKey))).toBe(expected);
    expect(imports.count()).toBe(1);
    const changed = createEphemeral();
    changed.privateKey.set(a.privateKey);
    expect(toHex(x25519SharedSecret(changed.privateKey, b.publicKey))).toBe(expected);
    expect(imports.count()).toBe(2);
  });

  it("the returned pair is plain bytes: nothing extra to log or serialize", () => {
    const pair = createEphemeral();
    expect(Object.keys(pair).sort()).toEqual(["privateKey", "publicKey"]);
    expect(Object.getOwnPropertyNames(pair.privateKey)).toEqual(Array.from({ length: 32 }, (_, i) => String(i)));
    expect(pair.privateKey.constructor).toBe(Uint8Array);
    expect(pair.privateKey.byteLength).toBe(pair.privateKey.buffer.byteLength);
  });

  it("node (kept key), @noble and WebCrypto compute the same secrets and public keys", async () => {
    expect(await webCryptoHasX25519()).toBe(true);
    for (let n = 0; n < 8; n++) {
      const a = createEphemeral();
      const b = createEphemeral();
      const node = toHex(x25519SharedSecret(a.privateKey, b.publicKey));
      const noble = withNodeDisabled(() => toHex(x25519SharedSecret(a.privateKey, b.publicKey)));
      const nobleReverse = withNodeDisabled(() => toHex(x25519SharedSecret(b.privateKey, a.publicKey)));
      const noblePublic = withNodeDisabled(() => toHex(x25519PublicKey(a.privateKey)));
      expect(noble).toBe(node);
      expect(nobleReverse).toBe(node);
      expect(noblePublic).toBe(toHex(a.publicKey));
      expect(await webCryptoSecret(a.privateKey, b.publicKey)).toBe(node);
      expect(await webCryptoSecret(b.privateKey, a.publicKey)).toBe(node);
    }
  });

  it("a node handshake key agrees with a WebCrypto one and a @noble one", async () => {
    const node = createEphemeralKey();
    setNodeCryptoDisabled(true);
    const web = await createEphemeralAsync(); // WebCrypto: node:crypto is "absent"
    expect(web.agreeSync).toBeUndefined();
    const noble = createEphemeralKey();
    setNodeCryptoDisabled(false);
    const secret = toHex(await web.agree(node.publicKey));
    expect(toHex(node.agreeSync!(web.publicKey))).toBe(secret);
    const withNoble = toHex(node.agreeSync!(noble.publicKey));
    expect(toHex(noble.agreeSync!(node.publicKey))).toBe(withNoble);
  });

  it("still refuses a small-order or malformed peer key with 606", () => {
    const a = createEphemeral();
    for (const peer of [new Uint8Array(32), Uint8Array.of(1, ...new Uint8Array(31)), new Uint8Array(31)]) {
      let code: number | undefined;
      try {
        x25519SharedSecret(a.privateKey, peer);
      } catch (e) {
        code = (e as { code: number }).code;
      }
      expect(code).toBe(ErrorCode.SECURITY_MALFORMED_KEY);
    }
  });
});
