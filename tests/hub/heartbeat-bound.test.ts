// Heartbeat negotiation is bounded (spec/handshake.md): whatever a peer proposes, a real hub
// and its agent agree on at most 30 s between heartbeats and 120 s to DEAD.
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { HeartbeatParamsSchema } from "../../generated/proto/fleet/v1/handshake_pb.js";
import { handshake } from "../../runtime/client/hub-client.js";
import { systemClock } from "../../runtime/clock.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { connectTcp } from "../../runtime/transport/tcp.js";
import { cleanup, inProcessHub } from "./support.js";

afterEach(cleanup);

describe("hub: heartbeat negotiation", () => {
  it("caps a Hello that proposes to switch liveness off", async () => {
    const running = await inProcessHub();
    const conn = await connectTcp("127.0.0.1", running.port);
    const max = 0xffff_ffff;
    const est = await handshake(conn, { port: running.port, identity: generateIdentity("lazy"), heartbeat: create(HeartbeatParamsSchema, { intervalMs: max, degradedAfterMs: max, suspectAfterMs: max, deadAfterMs: max }) }, systemClock);
    expect([est.heartbeat.intervalMs, est.heartbeat.degradedAfterMs, est.heartbeat.suspectAfterMs, est.heartbeat.deadAfterMs]).toEqual([30_000, 60_000, 90_000, 120_000]);
    conn.close();
  });
});
