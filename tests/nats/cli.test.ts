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
  const fleet = async (args: string[], env: Record<string, string> = {}) => {
    const { stdout } = await run(process.execPath, [bin, ...args, "--home", home, "--json"], { env: { ...process.env, ...env }, timeout: 30_000 });
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
});
