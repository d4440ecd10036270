// Identities on disk: one JSON file per agent in a directory (FLEET_HOME/keys), mode 0600
// in a 0700 directory. Files that others can read are refused on load, as ssh does, and
// nothing here ever prints or logs a seed.
import { chmodSync, openSync, readdirSync, readFileSync, renameSync, statSync, writeSync, closeSync, existsSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { exportSeed, fromBase64Url, identityFromSeed, toBase64Url, type Identity } from "../crypto/index.js";
import { ErrorCode, FleetError } from "../errors.js";
import { makeDirs, pathExists } from "./dirs.js";

interface KeyFile {
  fleet_key: 1;
  agent: string;
  key_id: string;
  public_key: string;
  /** base64url of the 32-byte Ed25519 seed. */
  seed: string;
}

const SUFFIX = ".key";

/** File name for an agent: URI-encoded, so names with ":" or "/" stay one safe file. */
function fileNameFor(agent: string): string {
  const enc = encodeURIComponent(agent).replace(/^\./, "%2E");
  return enc + SUFFIX;
}

export class FileKeystore {
  constructor(readonly dir: string) {}

  private ensureDir(): void {
    makeDirs(this.dir, 0o700, `key directory ${this.dir}`);
    chmodSync(this.dir, 0o700);
  }

  pathFor(agent: string): string {
    return join(this.dir, fileNameFor(agent));
  }

  /** Whether the agent has a key file; a file that cannot be checked (EACCES) is 808, never "absent". */
  has(agent: string): boolean {
    return pathExists(this.pathFor(agent), `key file for ${agent}`);
  }

  /** Writes atomically (temp file 0600, then rename), replacing any previous key of the agent. */
  save(identity: Identity): string {
    this.ensureDir();
    const seed = exportSeed(identity);
    const doc: KeyFile = { fleet_key: 1, agent: identity.agent, key_id: identity.keyId, public_key: toBase64Url(identity.publicKey), seed: toBase64Url(seed) };
    seed.fill(0);
    const path = this.pathFor(identity.agent);
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      const fd = openSync(tmp, "w", 0o600);
      try {
        writeSync(fd, JSON.stringify(doc, null, 2) + "\n");
      } finally {
        closeSync(fd);
      }
      chmodSync(tmp, 0o600);
      renameSync(tmp, path);
    } catch (e) {
      if (existsSync(tmp)) unlinkSync(tmp);
      throw new FleetError(ErrorCode.DELIVERY_STORE_FAILED, `cannot write key file for ${identity.agent}: ${(e as NodeJS.ErrnoException).code ?? "error"}`);
    }
    return path;
  }

  /** 503 if absent, 603 if readable by others, 606 if the file is damaged or does not match its key id. */
  load(agent: string): Identity {
    const path = this.pathFor(agent);
    let text: string;
    try {
      const st = statSync(path);
      if ((st.mode & 0o077) !== 0) {
        throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `key file ${path} is accessible by others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 on it`);
      }
      text = readFileSync(path, "utf8");
    } catch (e) {
      if (e instanceof FleetError) throw e;
      throw new FleetError(ErrorCode.REGISTRY_AGENT_NOT_FOUND, `no key for ${agent} in ${this.dir}`);
    }
    let doc: Partial<KeyFile>;
    try {
      doc = JSON.parse(text) as Partial<KeyFile>;
    } catch {
      // Never echo the file's contents: it holds a secret.
      throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, `key file ${path} is not valid JSON`);
    }
    if (doc.fleet_key !== 1 || doc.agent !== agent || typeof doc.seed !== "string") {
      throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, `key file ${path} is not a fleet key for ${agent}`);
    }
    const seed = fromBase64Url(doc.seed, ErrorCode.SECURITY_MALFORMED_KEY);
    const identity = identityFromSeed(agent, seed);
    seed.fill(0);
    if (doc.key_id !== identity.keyId) throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, `key file ${path}: key_id does not match the seed`);
    return identity;
  }

  /** Agent names with a key file here. */
  list(): string[] {
    if (!pathExists(this.dir, `key directory ${this.dir}`)) return [];
    let files: string[];
    try {
      files = readdirSync(this.dir);
    } catch (e) {
      throw new FleetError(ErrorCode.DELIVERY_STORE_FAILED, `cannot read key directory ${this.dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    return files
      .filter((f) => f.endsWith(SUFFIX))
      .flatMap((f) => {
        try {
          return [decodeURIComponent(f.slice(0, -SUFFIX.length))];
        } catch {
          return []; // not a name this keystore wrote
        }
      })
      .sort();
  }

  remove(agent: string): boolean {
    const path = this.pathFor(agent);
    if (!existsSync(path)) return false;
    unlinkSync(path);
    return true;
  }

  toJSON(): object {
    return { dir: this.dir };
  }
}

/** FLEET_HOME/keys (FLEET_HOME defaults to ~/.fleet). */
export function defaultKeystoreDir(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.FLEET_HOME ?? join(env.HOME ?? ".", ".fleet");
  return join(home, "keys");
}
