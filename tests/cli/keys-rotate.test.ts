// `fleet keys rotate` against a real hub process: the hub moves the agent's pinned key
// (durably: it survives a SIGKILL), the new key is saved 0600, the old one kept 0600 as a
// backup, neither printed; the old key can no longer connect. An unreachable hub changes nothing.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connectHub } from "../../runtime/client/hub-client.js";
import { FileKeystore } from "../../runtime/node/keystore.js";
import { ErrorCode, isFleetError } from "../../runtime/errors.js";
import { cleanup, runCli, spawnHub, tmpDir } from "../hub/support.js";

const json = (s: string) => JSON.parse(s.trim().split("\n").at(-1)!);
const seedOf = (path: string) => JSON.parse(readFileSync(path, "utf8")).seed as string;

describe("fleet keys rotate", () => {
  afterAll(cleanup);
  it("rotates an agent's key at the hub, durably, keeping the old key as a 0600 backup", async () => {
    const home = tmpDir();
    for (const a of ["alpha", "beta"]) expect((await runCli(["keygen", "--agent-id", a], home)).code).toBe(0);
    let hub = await spawnHub(home);
    // A --port 0 hub leaves config.json alone: name it as this home's hub.
    const cfg = join(home, "config.json");
    writeFileSync(cfg, JSON.stringify({ ...JSON.parse(readFileSync(cfg, "utf8")), hub: `127.0.0.1:${hub.port}` }));
    expect((await runCli(["send", "beta", "before", "--agent", "alpha"], home)).code).toBe(0);
    expect((await runCli(["inbox", "--agent", "beta"], home)).code).toBe(0); // pins alpha's key in this home
    const keyFile = join(home, "keys", "alpha.key");
    const oldSeed = seedOf(keyFile);
    const oldId = new FileKeystore(join(home, "keys")).load("alpha");

    const r = await runCli(["keys", "rotate", "--agent-id", "alpha", "--json"], home);
    expect(r.code, r.stderr).toBe(0);
    const out = json(r.stdout);
    expect(out).toMatchObject({ ok: true, agent: "alpha", old_key_id: oldId.keyId });
    expect(out.new_key_id).not.toBe(oldId.keyId);
    const newSeed = seedOf(keyFile);
    expect(newSeed).not.toBe(oldSeed);
    for (const s of [oldSeed, newSeed]) expect(r.stdout + r.stderr).not.toContain(s);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, "keys", out.retired)).mode & 0o777).toBe(0o600);
    expect(seedOf(join(home, "keys", out.retired))).toBe(oldSeed);
    expect(existsSync(join(home, "keys", "pending", "alpha.key"))).toBe(false);

    // Durable: a SIGKILLed hub restarted on the same home knows only the new key.
    hub.child.kill("SIGKILL");
    await hub.exited;
    hub = await spawnHub(home);
    const list = json((await runCli(["registry", "list", "--json", "--hub", `127.0.0.1:${hub.port}`], home)).stdout);
    expect(list.agents.find((a: { agent: string }) => a.agent === "alpha").key_id).toBe(out.new_key_id);
    expect((await runCli(["send", "beta", "after", "--agent", "alpha", "--hub", `127.0.0.1:${hub.port}`], home)).code).toBe(0);
    const inbox = json((await runCli(["inbox", "--agent", "beta", "--json", "--hub", `127.0.0.1:${hub.port}`], home)).stdout);
    expect(inbox.messages).toEqual([expect.objectContaining({ from: "alpha", verified: true, payload: "after" })]);
    await expect(connectHub({ port: hub.port, identity: oldId })).rejects.toSatisfy((e: unknown) => isFleetError(e) && [ErrorCode.SECURITY_KEY_MISMATCH, ErrorCode.HANDSHAKE_AUTH_FAILED].includes(e.code));
  }, 120_000); // many CLI processes: slow on a loaded machine

  it("changes nothing when the hub is unreachable (805, one line)", async () => {
    const home = tmpDir();
    expect((await runCli(["keygen", "--agent-id", "alpha"], home)).code).toBe(0);
    const before = seedOf(join(home, "keys", "alpha.key"));
    const r = await runCli(["keys", "rotate", "--agent-id", "alpha", "--hub", "127.0.0.1:1"], home);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/error 805 /);
    expect(seedOf(join(home, "keys", "alpha.key"))).toBe(before);
    expect(readdirSync(join(home, "keys", "pending"))).toEqual([]);
  });
});
