// Replay protection across a restart on the NATS receive path (issue 12, item 7): an agent
// that keeps its seen ids in a SqliteReplayStore refuses (604) a copy of a message it already
// took, republished to its JetStream inbox after it restarted.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { create } from "@bufbuild/protobuf";
import { afterAll, describe, expect, it } from "vitest";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { buildEnvelope } from "../../runtime/client/draft.js";
import { systemClock } from "../../runtime/clock.js";
import { generateIdentity, signEnvelope } from "../../runtime/crypto/index.js";
import { subjects } from "../../runtime/nats/subjects.js";
import { toWire } from "../../runtime/nats/wire.js";
import { SqliteReplayStore } from "../../runtime/node/replay-store.js";
import { hasNatsServer } from "../support/nats-server.js";
import { natsAgents } from "./support/agents.js";

const dir = mkdtempSync(joinPath(tmpdir(), "fleet-nats-replay-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!hasNatsServer)("NATS replay store", () => {
  const join = natsAgents();

  it("refuses a message republished after the recipient restarted (604), with a durable store", async () => {
    const file = joinPath(dir, "restarter.db");
    const identity = generateIdentity("restarter");
    const got: string[] = [];
    const codes: number[] = [];
    const first = await join("restarter", { identity, replayStore: new SqliteReplayStore(file) });
    first.onMessage((env) => got.push(env.id));
    const raw = (await join("raw-publisher")).carrier;
    const alice = generateIdentity("alice-r");
    const signed = signEnvelope(buildEnvelope({ to: "restarter", text: "pay once" }, "alice-r", systemClock), alice);
    // No Nats-Msg-Id: JetStream stores every copy, so only the recipient can tell.
    const wire = toWire(create(PacketSchema, { kind: { case: "signed", value: signed } }), { publicKey: alice.publicKey });
    raw.nc.publish(subjects.agentInbox("restarter"), wire.data, { headers: wire.headers });
    await expect.poll(() => got.length, { timeout: 5_000 }).toBe(1);
    await first.close();

    const again = await join("restarter", { identity, replayStore: new SqliteReplayStore(file), onReject: (e, subject) => subject === subjects.agentInbox("restarter") && codes.push(e.code) });
    again.onMessage((env) => got.push(env.id));
    raw.nc.publish(subjects.agentInbox("restarter"), wire.data, { headers: wire.headers });
    await expect.poll(() => codes, { timeout: 5_000 }).toEqual([604]);
    expect(got).toHaveLength(1);
  });
});
