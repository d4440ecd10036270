// Identities of the fleet home, kept by the Node keystore (0600 files under keys/).
import { CliError } from "./cli-error.js";
import { join } from "node:path";
import { generateIdentity, type Identity } from "../crypto/index.js";
import { FileKeystore } from "../node/keystore.js";
import { ensureHome, readConfig } from "./home.js";

export function keystore(home: string): FileKeystore {
  return new FileKeystore(join(ensureHome(home), "keys"));
}

/** The named identity, or the home's default agent; 503 with a hint when there is none. */
export function loadIdentity(home: string, agent?: string): Identity {
  const name = agent ?? readConfig(home).agent;
  if (!name) throw new CliError("no agent identity: run `fleet keygen --agent-id NAME` or pass --agent");
  const ks = keystore(home);
  if (!ks.has(name)) throw new CliError(`no key for ${name} in ${home}/keys: run \`fleet keygen --agent-id ${name}\``);
  return ks.load(name);
}

/** Loads the identity, creating it on first use (the hub's own key). */
export function loadOrCreateIdentity(home: string, agent: string): Identity {
  const ks = keystore(home);
  if (ks.has(agent)) return ks.load(agent);
  const id = generateIdentity(agent);
  ks.save(id);
  return id;
}
