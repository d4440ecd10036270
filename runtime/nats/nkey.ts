// An agent's Ed25519 identity as its NATS user nkey (spec/nats-auth.md "Identity"). nats-server
// authenticates an nkey user by a signature over the nonce in its INFO: the agent signs it
// with the same key that signs its envelopes, so the seed never leaves the Identity (the
// authenticator below calls identity.sign; nothing is encoded, logged or sent). The text forms
// are runtime/crypto/nkey.ts.
import type { Authenticator } from "nats";
import { toBase64Url } from "../crypto/bytes.js";
import type { Identity } from "../crypto/identity.js";
import { userNkey } from "../crypto/nkey.js";

export { crc16, identityFromUserSeed, publicKeyOfUserNkey, userNkey, userSeed } from "../crypto/nkey.js";

/**
 * A nats.js Authenticator that proves the identity's key: it answers the server's nonce with
 * { nkey: the user public key, sig: base64url Ed25519 signature over the nonce }. The signing
 * is synchronous (nats.js calls authenticators synchronously), which is why an identity whose
 * key is a WebCrypto non-extractable CryptoKey (sign only async) cannot log in this way.
 */
export function identityAuthenticator(identity: () => Identity): Authenticator {
  return (nonce?: string) => {
    const id = identity();
    const nkey = userNkey(id.publicKey);
    if (!nonce) return { nkey, sig: "" };
    // nats-server takes the signature base64url without padding (RawURLEncoding).
    return { nkey, sig: toBase64Url(id.sign(new TextEncoder().encode(nonce))) };
  };
}
