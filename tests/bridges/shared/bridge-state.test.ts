// The bounded, persisted state bridges share: first-key bindings and derived keys.
import { statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KeepStats, KEEP_SCAR_NAMES_LIMIT } from "../../../runtime/bridges/keep/discovery.js";
import { BridgeKeys } from "../../../runtime/bridges/shared/bridge-keys.js";
import { FirstKeyBindings } from "../../../runtime/bridges/shared/first-key.js";
import { ProxyPool } from "../../../runtime/bridges/shared/fleet-link.js";
import { generateIdentity } from "../../../runtime/crypto/index.js";
import { cleanup, tmpDir } from "../../hub/support.js";

afterAll(cleanup);

const k1 = new Uint8Array(32).fill(1);
const k2 = new Uint8Array(32).fill(2);

describe("FirstKeyBindings", () => {
  it("binds a name to its first key, refuses another (607), is bounded (804) and survives a restart", () => {
    const file = join(tmpDir("bindings-"), "names.json");
    const b = new FirstKeyBindings({ file, maxNames: 2 });
    expect(b.bind("a", k1)).toBe("new");
    expect(b.bind("a", k1)).toBe("same");
    expect(() => b.bind("a", k2)).toThrow(expect.objectContaining({ code: 607 }));
    b.bind("b", k2);
    expect(() => b.bind("c", k1)).toThrow(expect.objectContaining({ code: 804 }));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = new FirstKeyBindings({ file, maxNames: 2 });
    expect(() => again.bind("a", k2)).toThrow(expect.objectContaining({ code: 607 }));
    expect(again.size).toBe(2);
  });
});

describe("BridgeKeys", () => {
  it("derives the same key for a name from the same secret file, different ones per purpose and name", () => {
    const file = join(tmpDir("secret-"), "bridge.secret");
    const a = BridgeKeys.fromFile(file).identity("keep-proxy", "keep:x");
    const b = BridgeKeys.fromFile(file).identity("keep-proxy", "keep:x");
    expect(a.publicKey).toEqual(b.publicKey);
    expect(BridgeKeys.fromFile(file).identity("keep-sender", "keep:x").publicKey).not.toEqual(a.publicKey);
    expect(BridgeKeys.fromFile(file).identity("keep-proxy", "keep:y").publicKey).not.toEqual(a.publicKey);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.stringify(BridgeKeys.fromFile(file))).not.toMatch(/[0-9a-f]{64}/);
  });
});

describe("ProxyPool", () => {
  it("holds at most maxProxies connections", async () => {
    const pool = new ProxyPool({
      connect: async (identity) => ({ agent: identity.agent, close: async () => {} }) as never,
      identityFor: (n) => generateIdentity(n),
      attach: () => () => {},
      maxProxies: 2,
    });
    await pool.get("a");
    await pool.get("b");
    await expect(pool.get("c")).rejects.toMatchObject({ code: 804 });
    await pool.release("a");
    await expect(pool.get("c")).resolves.toBeDefined();
    expect(pool.size).toBe(2);
  });
});

describe("KeepStats", () => {
  it("caps scar_exchanges at 1,000 names while counting every packet", () => {
    const s = new KeepStats();
    for (let i = 0; i < KEEP_SCAR_NAMES_LIMIT + 50; i++) s.countVerified(`n${i}`, true);
    s.countVerified("n0", true);
    expect(s.scarExchanges.size).toBe(KEEP_SCAR_NAMES_LIMIT);
    expect(s.scarExchanges.get("n0")).toBe(2);
    expect(s.totalPackets).toBe(KEEP_SCAR_NAMES_LIMIT + 51);
  });
});
