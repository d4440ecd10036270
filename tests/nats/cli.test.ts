// The real `fleet` CLI against a real nats-server: --nats URL (and $FLEET_NATS) route the
// same commands through the NATS binding.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasNatsServer, natsSkipMessage, startNatsServer, type NatsServerHandle } from "../support/nats-server.js";

if (!hasNatsServer) console.warn(natsSkipMessage);

const run = promisify(execFile);
const bin = fileURLToPath(new URL("../../bin/fleet.js", import.meta.url));

describe.skipIf(!hasNatsServer)("fleet CLI over NATS", () => {
  let server: NatsServerHandle;
  let home: string;
  const fleet = async (args: string[], env: Record<string, string> = {}, at = home) => {
    const { stdout } = await run(process.execPath, [bin, ...args, "--home", at, "--json"], { env: { ...process.env, ...env }, timeout: 30_000 });
    return JSON.parse(stdout) as Record<string, unknown>;
  };
  beforeAll(async () => {
    server = await startNatsServer();
    home = mkdtempSync(join(tmpdir(), "fleet-nats-cli-"));
  });
  afterAll(async () => {
    await server?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("sends with --nats, stores for the offline recipient, and reads the inbox with $FLEET_NATS", async () => {
    await fleet(["keygen", "--agent-id", "cli-alice"]);
    await fleet(["keygen", "--agent-id", "cli-bob"]);
    const sent = await fleet(["send", "cli-bob", "hello over nats", "--agent", "cli-alice", "--nats", server.url]);
    expect(sent).toMatchObject({ ok: true, to: "cli-bob", from: "cli-alice", accepted: true });
    const inbox = await fleet(["inbox", "--agent", "cli-bob"], { FLEET_NATS: server.url });
    expect(inbox.messages).toEqual([expect.objectContaining({ from: "cli-alice", to: "cli-bob", verified: true, payload: "hello over nats", id: sent.id })]);
    // The message was acknowledged through the durable consumer: a second read finds nothing.
    const again = await fleet(["inbox", "--agent", "cli-bob", "--hub", server.url]);
    expect(again.messages).toEqual([]);
  }, 60_000);

  it("rotates a key with --nats: an agent in another home that pinned the old key applies it and accepts the new one", async () => {
    const other = mkdtempSync(join(tmpdir(), "fleet-nats-cli-"));
    try {
      await fleet(["keygen", "--agent-id", "cli-carol"]);
      await fleet(["keygen", "--agent-id", "cli-dave"], {}, other);
      await fleet(["send", "cli-dave", "before", "--agent", "cli-carol", "--nats", server.url]);
      const first = await fleet(["inbox", "--agent", "cli-dave", "--nats", server.url], {}, other); // pins carol's first key there
      expect(first.messages).toEqual([expect.objectContaining({ from: "cli-carol", verified: true, payload: "before" })]);
      const rotated = await fleet(["keys", "rotate", "--agent-id", "cli-carol", "--nats", server.url]);
      expect(rotated).toMatchObject({ ok: true, agent: "cli-carol" });
      expect(rotated.new_key_id).not.toBe(rotated.old_key_id);
      await fleet(["send", "cli-dave", "after", "--agent", "cli-carol", "--nats", server.url]);
      const after = await fleet(["inbox", "--agent", "cli-dave", "--nats", server.url], {}, other);
      expect(after.messages).toEqual([expect.objectContaining({ from: "cli-carol", verified: true, payload: "after" })]);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  }, 60_000);
  it("runs fleet group with --nats: the chain lives in FLEET_GROUPS, an invite's use limit holds across CLI runs (608)", async () => {
    for (const a of ["grp-owner", "grp-bob", "grp-carol"]) await fleet(["keygen", "--agent-id", a]);
    const nats = ["--nats", server.url];
    expect(await fleet(["group", "create", "crew", "--agent", "grp-owner", ...nats])).toMatchObject({ ok: true, group: "crew", owner: "grp-owner", seq: "1" });
    const file = join(home, "crew.invite");
    await fleet(["group", "invite", "crew", "--uses", "1", "--out", file, "--agent", "grp-owner"]);
    expect(await fleet(["group", "join", file, "--agent", "grp-bob", ...nats])).toMatchObject({ ok: true, group: "crew", seq: "2" });
    const refused = await run(process.execPath, [bin, "group", "join", file, "--agent", "grp-carol", ...nats, "--home", home, "--json"], { timeout: 30_000 }).then(
      () => undefined,
      (e: { stdout: string; stderr: string }) => e.stdout + e.stderr,
    );
    expect(refused).toContain("608");
    const members = await fleet(["group", "members", "crew", "--agent", "grp-carol", ...nats]);
    expect(members).toMatchObject({ ok: true, owner: "grp-owner", members: [{ agent: "grp-owner", role: "owner" }, { agent: "grp-bob", role: "member" }] });
  }, 60_000);
});
