// A session batch (spec/sessions.md) sent to the hub: each envelope is held to the connection
// and routed like a single session message, in order; a batch with an envelope from someone
// else is refused whole and ends the connection (603), nothing of it delivered.
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import type { HubConnection } from "../../runtime/client/connection.js";
import { applicationValue, buildEnvelope } from "../../runtime/client/draft.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { systemClock } from "../../runtime/clock.js";
import { encodeEnvelope, encodePacket } from "../../runtime/codec/index.js";
import { generateIdentity, type Session } from "../../runtime/crypto/index.js";
import { ErrorCode } from "../../runtime/errors.js";
import { cleanup, inProcessHub, until } from "./support.js";

afterEach(cleanup);

/** Sends envelopes as one batch over a HubConnection's own session (HubConnection itself never batches). */
function sendBatch(c: HubConnection, envs: Envelope[]): void {
  const inner = c as unknown as { o: { session: Session; conn: { send(body: Uint8Array): void } } };
  const se = inner.o.session.sealEncoded(envs.map(encodeEnvelope));
  inner.o.conn.send(encodePacket(create(PacketSchema, { kind: { case: "session", value: se } })));
}

describe("hub: session batches", () => {
  it("routes every envelope of a batch, in order, then the session goes on", async () => {
    const hub = await inProcessHub();
    const alpha = await connectHub({ port: hub.port, identity: generateIdentity("alpha") });
    const beta = await connectHub({ port: hub.port, identity: generateIdentity("beta") });
    const got: { value: unknown; verified: boolean }[] = [];
    beta.onMessage((env, meta) => got.push({ value: applicationValue(env), verified: meta.verified }));
    sendBatch(alpha, [1, 2, 3].map((n) => buildEnvelope({ to: "beta", json: n }, "alpha", systemClock)));
    await alpha.send({ to: "beta", json: 4, sign: false });
    await until(() => got.length === 4, 5_000, "batched deliveries");
    expect(got).toEqual([1, 2, 3, 4].map((value) => ({ value, verified: false })));
  });

  it("refuses a batch holding an envelope from another sender: the connection ends with 603, nothing delivered", async () => {
    const hub = await inProcessHub();
    const alpha = await connectHub({ port: hub.port, identity: generateIdentity("alpha") });
    const beta = await connectHub({ port: hub.port, identity: generateIdentity("beta") });
    const got: Envelope[] = [];
    beta.onMessage((env) => got.push(env));
    const closed = new Promise<number | undefined>((resolve) => alpha.onClose((e) => resolve(e?.code)));
    sendBatch(alpha, [buildEnvelope({ to: "beta", json: 1 }, "alpha", systemClock), buildEnvelope({ to: "beta", json: 2 }, "mallory", systemClock)]);
    expect(await closed).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    // A round trip on beta's connection: anything the hub forwarded before would be here by now.
    await beta.queryRegistry({});
    expect(got.filter((e) => e.sender === "alpha")).toEqual([]);
  });
});
