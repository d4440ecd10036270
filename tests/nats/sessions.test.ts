// Pairwise sessions on a real nats-server: the handshake over the inbox subjects, then
// HMAC-authenticated SessionEnvelopes on the session subjects; forgeries are refused.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { MessageType, type Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { PacketSchema, SessionEnvelopeSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { applicationValue } from "../../runtime/client/draft.js";
import { encodePacket } from "../../runtime/codec/index.js";
import { ErrorCode } from "../../runtime/errors.js";
import { subjects } from "../../runtime/nats/subjects.js";
import { CONTENT_TYPE, HEADER } from "../../runtime/nats/wire.js";
import { headers } from "nats";
import { hasNatsServer, natsSkipMessage } from "../support/nats-server.js";
import { natsAgents } from "./support/agents.js";

if (!hasNatsServer) console.warn(natsSkipMessage);

describe.skipIf(!hasNatsServer)("NATS pairwise sessions", () => {
  const join = natsAgents();

  it("handshakes over the inboxes and carries session-authenticated messages in order, both ways", async () => {
    const a = await join("sess-a");
    const b = await join("sess-b");
    const atB: unknown[] = [];
    b.onMessage((env) => atB.push(applicationValue(env)));
    for (let i = 0; i < 50; i++) await a.send({ to: "sess-b", json: i, sign: false });
    await expect.poll(() => atB.length, { timeout: 10_000 }).toBe(50);
    expect(atB).toEqual(Array.from({ length: 50 }, (_, i) => i));

    // The responder answers inside the same session; request/response works over it.
    b.onMessage((env) => {
      if (env.type === MessageType.REQUEST) void b.send({ to: env.sender, type: MessageType.RESPONSE, inReplyTo: env.id, json: "pong", sign: false });
    });
    const reply = await a.request({ to: "sess-b", json: "ping?", sign: false }, 5_000);
    expect(applicationValue(reply)).toBe("pong");
    expect((await a.openSession("sess-b")).peer).toBe("sess-b");
  });

  it("refuses forged and replayed session packets (601, 604)", async () => {
    const codes: number[] = [];
    const a = await join("sess-c");
    const b = await join("sess-d", { onReject: (e) => codes.push(e.code) });
    const got: Envelope[] = [];
    b.onMessage((env) => got.push(env));
    // Capture a's first real session packet on the wire.
    const { sessionId } = await a.openSession("sess-d");
    const subject = subjects.session(sessionId, "initiator");
    const captured: Uint8Array[] = [];
    const spy = a.carrier.nc.subscribe(subject, { callback: (_e, m) => captured.push(m.data) });
    await a.carrier.flush();
    await a.send({ to: "sess-d", text: "genuine", sign: false });
    await expect.poll(() => got.length, { timeout: 5_000 }).toBe(1);
    spy.unsubscribe();

    const h = headers();
    h.set(HEADER.contentType, CONTENT_TYPE.packetProto);
    a.carrier.nc.publish(subject, captured[0], { headers: h }); // replay
    const forged = encodePacket(
      create(PacketSchema, { kind: { case: "session", value: create(SessionEnvelopeSchema, { sessionId, sequence: 99n, payloadType: "application/vnd.fleet.v1.envelope+proto", payload: new Uint8Array([10, 1, 120]), mac: new Uint8Array(32) }) } }),
    );
    a.carrier.nc.publish(subject, forged, { headers: h });
    await expect.poll(() => codes, { timeout: 5_000 }).toEqual([ErrorCode.SECURITY_REPLAY, ErrorCode.SECURITY_SIGNATURE_INVALID]);
    expect(got.map((e) => applicationValue(e))).toEqual(["genuine"]);
  });

  it("batches a burst of sends to one peer into few session messages, delivered whole and in order", async () => {
    const a = await join("sess-batch-a");
    const b = await join("sess-batch-b");
    const got: unknown[] = [];
    b.onMessage((env) => got.push(applicationValue(env)));
    const { sessionId } = await a.openSession("sess-batch-b");
    const onWire: Uint8Array[] = [];
    const spy = a.carrier.nc.subscribe(subjects.session(sessionId, "initiator"), { callback: (_e, m) => onWire.push(m.data) });
    await a.carrier.flush();
    // 600 sends in one tick: batches of at most 256 (the default), so 3 NATS messages.
    await Promise.all(Array.from({ length: 600 }, (_, i) => a.send({ to: "sess-batch-b", json: i, sign: false })));
    await expect.poll(() => got.length, { timeout: 10_000 }).toBe(600);
    expect(got).toEqual(Array.from({ length: 600 }, (_, i) => i));
    await expect.poll(() => onWire.length, { timeout: 5_000 }).toBe(3);
    // Sends awaited one by one go out alone: batching never waits for company.
    for (let i = 0; i < 3; i++) await a.send({ to: "sess-batch-b", json: `alone-${i}`, sign: false });
    await expect.poll(() => got.length, { timeout: 5_000 }).toBe(603);
    expect(onWire.length).toBe(6);
    spy.unsubscribe();
  });

  it("sessionBatch { envelopes: 1 } sends each envelope alone; an invalid envelope fails only its own send", async () => {
    const a = await join("sess-one-a", { sessionBatch: { envelopes: 1 } });
    const b = await join("sess-one-b");
    const got: unknown[] = [];
    b.onMessage((env) => got.push(applicationValue(env)));
    const { sessionId } = await a.openSession("sess-one-b");
    let onWire = 0;
    const spy = a.carrier.nc.subscribe(subjects.session(sessionId, "initiator"), { callback: () => onWire++ });
    await a.carrier.flush();
    const sends = [0, 1, 2].map((i) => a.send({ to: "sess-one-b", json: i, sign: false }));
    const bad = a.send({ to: "sess-one-b", json: "late", ttlSeconds: 0, sign: false }); // ttl_seconds is required
    await Promise.all(sends);
    await expect(bad).rejects.toMatchObject({ code: ErrorCode.VALIDATION_MISSING_FIELD, pointer: "/ttlSeconds" });
    await expect.poll(() => got.length, { timeout: 5_000 }).toBe(3);
    expect(got).toEqual([0, 1, 2]);
    expect(onWire).toBe(3);
    spy.unsubscribe();
  });

  it("fails the handshake with 101 when the peer never answers", async () => {
    const lonely = await join("sess-lonely", { handshakeTimeoutMs: 100, handshakeRetries: 0 });
    // A peer that never connects: its inbox stores the Hello, nobody answers.
    await expect(lonely.openSession("sess-nobody")).rejects.toMatchObject({ code: ErrorCode.HANDSHAKE_TIMEOUT });
  });
});
