// An agent identity: a name and an Ed25519 key pair. The seed lives in a private field,
// so it never shows up in JSON, console.log or util.inspect; only the keystore exports it.
import { ErrorCode, FleetError } from "../errors.js";
import { randomBytes } from "./bytes.js";
import { assertValidSeed, asyncSigner, publicKeyFromSeed, syncSigner } from "./ed25519.js";
import { keyIdFor } from "./keyid.js";
import { getNodeCrypto } from "./node-crypto.js";
import { codePoints } from "../codec/validate.js";

export { verifyEd25519, verifyEd25519Async } from "./ed25519.js";

export interface Identity {
  /** The agent's name (1..128 characters). */
  readonly agent: string;
  /** "ed25519:" + base32(SHA-256(publicKey)[0..20]). */
  readonly keyId: string;
  readonly publicKey: Uint8Array;
  sign(msg: Uint8Array): Uint8Array;
  signAsync(msg: Uint8Array): Promise<Uint8Array>;
}

class Ed25519Identity implements Identity {
  readonly agent: string;
  readonly keyId: string;
  readonly publicKey: Uint8Array;
  readonly #seed: Uint8Array;
  readonly #sign: (msg: Uint8Array) => Uint8Array;
  #signAsync?: (msg: Uint8Array) => Promise<Uint8Array>;

  constructor(agent: string, seed: Uint8Array) {
    this.agent = agent;
    this.#seed = seed.slice();
    this.publicKey = publicKeyFromSeed(this.#seed);
    this.keyId = keyIdFor(this.publicKey);
    this.#sign = syncSigner(this.#seed);
  }

  sign(msg: Uint8Array): Uint8Array {
    return this.#sign(msg);
  }

  signAsync(msg: Uint8Array): Promise<Uint8Array> {
    // On node:crypto the private KeyObject this identity already holds signs (asyncSigner
    // would import the seed a second time, ~0.4 ms).
    this.#signAsync ??= getNodeCrypto() ? async (msg) => this.#sign(msg) : asyncSigner(this.#seed);
    return this.#signAsync(msg);
  }

  /** The 32-byte seed. Only for the keystore; never log it. */
  exportSeed(): Uint8Array {
    return this.#seed.slice();
  }

  toJSON(): object {
    return { agent: this.agent, keyId: this.keyId };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `Identity(${this.agent}, ${this.keyId})`;
  }
}

function checkAgent(agent: string): void {
  if (typeof agent !== "string" || agent.length < 1 || codePoints(agent, 128) > 128) {
    throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "agent name must be 1..128 characters", { pointer: "/sender" });
  }
}

export function identityFromSeed(agent: string, seed: Uint8Array): Identity {
  checkAgent(agent);
  assertValidSeed(seed);
  return new Ed25519Identity(agent, seed);
}

export function generateIdentity(agent: string): Identity {
  return identityFromSeed(agent, randomBytes(32));
}

/** The seed of an identity made here (for the keystore); 606 for foreign Identity objects. */
export function exportSeed(identity: Identity): Uint8Array {
  if (identity instanceof Ed25519Identity) return identity.exportSeed();
  throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, "identity has no exportable seed");
}
