// Replay rules on the hub client's receive path (issue 12, item 7), against real hub
// processes: a packet written again reaches no one twice, across reconnects, hub restarts
// and (for the CLI, with its durable store) across process restarts; a full window refuses
// (804) and leaves the message at the hub rather than deliver without remembering.
import { afterEach, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ApplicationPayloadSchema } from "../../generated/proto/fleet/v1/payload_pb.js";
import type { HubConnection } from "../../runtime/client/connection.js";
import { applicationValue } from "../../runtime/client/draft.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { generateIdentity, ReplayGuard } from "../../runtime/crypto/index.js";
import { HUB_OP_MEDIA_TYPE } from "../../runtime/hub/hub-requests.js";
import { cleanup, runCli, spawnHub, tmpDir, until } from "../hub/support.js";

afterEach(cleanup);

async function hubInbox(c: HubConnection): Promise<number> {
  const answer = await c.request({ to: "fleet:hub", type: MessageType.QUERY, sign: false, body: { case: "application", value: create(ApplicationPayloadSchema, { mediaType: HUB_OP_MEDIA_TYPE, content: { case: "json", value: '{"op":"status"}' } }) } });
  return (applicationValue(answer) as { inbox: number }).inbox;
}

describe("hub client replay protection", () => {
  it("refuses a fire-and-forget packet replayed after a hub restart, on a new connection of the same agent", async () => {
    const home = tmpDir();
    let hub = await spawnHub(home);
    const alphaId = generateIdentity("alpha");
    const betaId = generateIdentity("beta");
    const got: string[] = [];
    let beta = await connectHub({ port: hub.port, identity: betaId });
    beta.onMessage((env) => got.push(env.id));
    let alpha = await connectHub({ port: hub.port, identity: alphaId });
    const packet = alpha.signPacket({ id: "once-only", to: "beta", text: "pay 10" });
    alpha.sendRaw(packet);
    await until(() => got.length === 1, 5_000, "first delivery");
    // The hub forgets its in-memory dedupe on restart; the same bytes are written again.
    hub.child.kill("SIGKILL");
    await hub.exited;
    hub = await spawnHub(home);
    await beta.close();
    beta = await connectHub({ port: hub.port, identity: betaId });
    beta.onMessage((env) => got.push(env.id));
    alpha = await connectHub({ port: hub.port, identity: alphaId });
    alpha.sendRaw(packet);
    await alpha.send({ id: "marker", to: "beta", text: "after" });
    await until(() => got.includes("marker"), 5_000, "marker");
    expect(got.filter((id) => id === "once-only")).toEqual(["once-only"]);
  });

  it("refuses (804) rather than deliver without remembering when its window is full, and leaves the message at the hub", async () => {
    const hub = await spawnHub(tmpDir());
    const betaId = generateIdentity("beta");
    const first = await connectHub({ port: hub.port, identity: betaId });
    await first.close();
    const alpha = await connectHub({ port: hub.port, identity: generateIdentity("alpha") });
    for (let i = 0; i < 3; i++) await alpha.send({ id: `m${i}`, to: "beta", text: `n${i}`, requiresAck: true });
    const got: string[] = [];
    const refused: number[] = [];
    const beta = await connectHub({ port: hub.port, identity: betaId, replay: new ReplayGuard({ window: "ttl", maxEntries: 2 }) });
    beta.onMessage((env) => got.push(env.id));
    beta.onDrop((e) => refused.push(e.code));
    await until(() => refused.length === 1, 5_000, "the refusal");
    expect(got).toEqual(["m0", "m1"]);
    expect(refused).toEqual([804]);
    // Not acknowledged: the hub still holds m2 for a later delivery.
    let left = -1;
    for (let i = 0; i < 50 && left !== 1; i++) {
      left = await hubInbox(alpha);
      if (left !== 1) await new Promise((r) => setTimeout(r, 20));
    }
    expect(left).toBe(1);
  });

  it("the CLI keeps seen ids across runs: a message replayed after a hub restart is not shown again", async () => {
    const home = tmpDir();
    expect((await runCli(["keygen", "--agent-id", "beta"], home)).code).toBe(0);
    let hub = await spawnHub(home);
    const alphaId = generateIdentity("alpha");
    const alpha1 = await connectHub({ port: hub.port, identity: alphaId, reconnect: false });
    const packet = alpha1.signPacket({ id: "replayed", to: "beta", text: "transfer 10" });
    alpha1.sendRaw(packet);
    await alpha1.send({ to: "beta", text: "first run", requiresAck: true });
    const run1 = await runCli(["inbox", "--agent", "beta", "--json", "--hub", `127.0.0.1:${hub.port}`], home); // a --port 0 hub is not written to config.json
    expect(run1.stdout).toContain("transfer 10");
    hub.child.kill("SIGKILL");
    await hub.exited;
    hub = await spawnHub(home);
    // alpha's connection again (same key: it was pinned), writing the very same bytes.
    const again = await connectHub({ port: hub.port, identity: alphaId });
    again.sendRaw(packet);
    await again.send({ to: "beta", text: "second run", requiresAck: true });
    const run2 = await runCli(["inbox", "--agent", "beta", "--json", "--hub", `127.0.0.1:${hub.port}`], home);
    expect(run2.code).toBe(0);
    expect(run2.stdout).toContain("second run");
    expect(run2.stdout).not.toContain("transfer 10");
  }, 90_000);
});

