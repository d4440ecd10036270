// The keys a bridge holds on behalf of the agents it presents: every one is derived from a
// single 32-byte bridge secret, so a name keeps the same key across restarts (hubs pin a
// name to its first key) without a key file per name. The secret lives in a 0600 file.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { hmacSha256, identityFromSeed, randomBytes, type Identity } from "../../crypto/index.js";
import { ErrorCode, FleetError } from "../../errors.js";

const utf8 = new TextEncoder();

export class BridgeKeys {
  readonly #secret: Uint8Array;
  private readonly cache = new Map<string, Identity>();
  /** At most this many derived identities are cached (re-deriving is cheap). */
  static readonly CACHE_LIMIT = 4_096;

  constructor(secret: Uint8Array) {
    if (secret.length !== 32) throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, "bridge secret must be 32 bytes");
    this.#secret = secret.slice();
  }

  /** A fresh secret held only in memory (tests, throwaway bridges: names change keys on restart). */
  static ephemeral(): BridgeKeys {
    return new BridgeKeys(randomBytes(32));
  }

  /** Loads the secret from file, creating it (mode 0600) on first use. */
  static fromFile(file: string): BridgeKeys {
    if (!existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(file, Buffer.from(randomBytes(32)).toString("hex") + "\n", { mode: 0o600, flag: "wx" });
    }
    chmodSync(file, 0o600);
    const hex = readFileSync(file, "utf8").trim();
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, `bridge secret in ${file} is not 64 hex digits`);
    return new BridgeKeys(Uint8Array.from(Buffer.from(hex, "hex")));
  }

  /** The identity named agent for one purpose ("keep-proxy", "keep-sender", ...); stable for a secret. */
  identity(purpose: string, agent: string): Identity {
    const k = `${purpose}\u0000${agent}`;
    let id = this.cache.get(k);
    if (!id) {
      id = identityFromSeed(agent, hmacSha256(this.#secret, utf8.encode(`fleet-bridge-key-v1\u0000${k}`)));
      if (this.cache.size >= BridgeKeys.CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(k, id);
    }
    return id;
  }

  toJSON(): object {
    return { bridgeKeys: "(secret)" };
  }
}
