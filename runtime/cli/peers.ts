// Pinned peer keys of the CLI user (FLEET_HOME/peers.json): a PinStore so PinnedKeys
// persists trust-on-first-use bindings between runs.
import { join } from "node:path";
import { PinnedKeys, toHex, fromHex, type PinnedKey, type PinStore } from "../crypto/index.js";
import { readJson, writeJson } from "./home.js";

type PeerFile = Record<string, { key_id: string; public_key: string; pinned_at: string }>;

export function filePinStore(home: string): PinStore {
  const path = join(home, "peers.json");
  return {
    load: () =>
      Object.entries(readJson<PeerFile>(path, {})).map(([agent, p]): PinnedKey => ({ agent, keyId: p.key_id, publicKey: fromHex(p.public_key), pinnedAt: Date.parse(p.pinned_at) || 0 })),
    save: (pin) => {
      const all = readJson<PeerFile>(path, {});
      all[pin.agent] = { key_id: pin.keyId, public_key: toHex(pin.publicKey), pinned_at: new Date(pin.pinnedAt).toISOString() };
      writeJson(path, all);
    },
  };
}

export function pinnedPeers(home: string): PinnedKeys {
  return new PinnedKeys(filePinStore(home));
}
