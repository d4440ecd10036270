// The hub in-process over real TCP: handshake first, sender binding, routing, receipts,
// dedupe, offline inbox, limits, and bad input. Time-driven limits use a FakeClock.
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { buildEnvelope } from "../../runtime/client/draft.js";
import { connectHub, type ConnectHubOptions } from "../../runtime/client/hub-client.js";
import type { HubConnection } from "../../runtime/client/connection.js";
import { FakeClock, systemClock } from "../../runtime/clock.js";
import { encodeFrame, encodePacket } from "../../runtime/codec/index.js";
import { generateIdentity, issueToken, signEnvelope, signTokenClaims } from "../../runtime/crypto/index.js";
import { TokenClaimsSchema } from "../../generated/proto/fleet/v1/token_pb.js";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { HUB_CONNECT_SCOPE, hubAudience } from "../../runtime/hub/options.js";
import { ErrorCode, FleetError, isFleetError } from "../../runtime/errors.js";
import { cleanup, envelopeOfFrame, inProcessHub, rawSocket, until } from "./support.js";

afterEach(cleanup);

function agent(port: number, name: string, extra: Partial<ConnectHubOptions> = {}): Promise<HubConnection> {
  return connectHub({ port, identity: generateIdentity(name), ...extra });
}

function inbox(c: HubConnection) {
  const got: { env: Envelope; verified: boolean }[] = [];
  c.onMessage((env, meta) => got.push({ env, verified: meta.verified }));
  return got;
}

function errorCodeOf(frames: Uint8Array[]): number | undefined {
  const last = frames.at(-1);
  if (!last) return undefined;
  const env = envelopeOfFrame(last);
  return env.body?.kind.case === "error" ? env.body.kind.value.code : undefined;
}

describe("hub: handshake and identity", () => {
  it("answers a message before the handshake with an error frame (105) and a close", async () => {
    const hub = await inProcessHub();
    const raw = await rawSocket(hub.port);
    const id = generateIdentity("mallory");
    const env = buildEnvelope({ to: "beta", text: "hi" }, "mallory", systemClock);
    const signed = signEnvelope(env, id);
    raw.socket.write(encodeFrame(encodePacket(create(PacketSchema, { kind: { case: "session", value: { sessionId: "x", sequence: 1n, payloadType: signed.payloadType, payload: signed.payload, mac: new Uint8Array(32) } } }))));
    await raw.closed;
    expect(errorCodeOf(raw.frames)).toBe(ErrorCode.HANDSHAKE_REQUIRED);
  });

  it("rejects a message whose sender is not the connection's agent (603) and closes", async () => {
    const hub = await inProcessHub();
    const alphaId = generateIdentity("alpha");
    const alpha = await connectHub({ port: hub.port, identity: alphaId });
    const beta = await agent(hub.port, "beta");
    const got = inbox(beta);
    // alpha signs a message claiming to be beta: the key is alpha's own, the name is not.
    const forged = buildEnvelope({ to: "beta", text: "I am beta" }, "beta", systemClock);
    const closed = new Promise<FleetError | undefined>((r) => alpha.onClose(r));
    alpha.sendRaw(encodePacket(create(PacketSchema, { kind: { case: "signed", value: signEnvelope(forged, alphaId) } })));
    const err = await closed;
    expect(err?.code).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(got).toEqual([]);
    expect(hub.hub.isOnline("alpha")).toBe(false);
  });

  it("pins a name to the first key: another key for the same name cannot connect", async () => {
    const hub = await inProcessHub();
    const first = await agent(hub.port, "alpha");
    await first.close();
    await expect(connectHub({ port: hub.port, identity: generateIdentity("alpha") })).rejects.toSatisfy((e: unknown) => isFleetError(e) && [ErrorCode.HANDSHAKE_AUTH_FAILED, ErrorCode.SECURITY_KEY_MISMATCH].includes(e.code));
  });
});

describe("hub: admission tokens", () => {
  it("admits only holders of a token this hub issued for them; a single-use token works once", async () => {
    const hubId = generateIdentity("fleet-hub");
    const hub = await inProcessHub({ identity: hubId, admission: "token" });
    const alpha = generateIdentity("alpha");
    const refused = (e: unknown) => isFleetError(e) && [ErrorCode.HANDSHAKE_AUTH_FAILED, ErrorCode.SECURITY_UNAUTHORIZED, ErrorCode.SECURITY_TOKEN_USED, ErrorCode.HANDSHAKE_REJECTED].includes(e.code);
    await expect(connectHub({ port: hub.port, identity: alpha })).rejects.toSatisfy(refused);
    const once = issueToken({ issuer: hubId.agent, subject: "alpha", audience: hubAudience(hubId), scopes: [HUB_CONNECT_SCOPE], maxUses: 1, holderKeyId: alpha.keyId }, hubId);
    const c = await connectHub({ port: hub.port, identity: alpha, admissionToken: once });
    await c.close();
    await expect(connectHub({ port: hub.port, identity: alpha, admissionToken: once })).rejects.toSatisfy(refused);
    // Someone else's token, or one from another issuer, does not open the door.
    const forBeta = issueToken({ issuer: hubId.agent, subject: "beta", audience: hubAudience(hubId), scopes: [HUB_CONNECT_SCOPE], holderKeyId: alpha.keyId }, hubId);
    await expect(connectHub({ port: hub.port, identity: alpha, admissionToken: forBeta })).rejects.toSatisfy(refused);
    const mallory = generateIdentity("mallory");
    const forged = signTokenClaims(create(TokenClaimsSchema, { tokenId: "forged", issuer: "mallory", subject: "alpha", audience: hubAudience(hubId), scopes: [HUB_CONNECT_SCOPE], holderKeyId: alpha.keyId, issuedAt: timestampFromMs(Date.now()), expiresAt: timestampFromMs(Date.now() + 60_000) }), mallory);
    await expect(connectHub({ port: hub.port, identity: alpha, admissionToken: forged })).rejects.toSatisfy(refused);
  });
});

describe("hub: routing", () => {
  it("routes direct, group, capability and broadcast messages, verified end to end", async () => {
    const hub = await inProcessHub();
    const alpha = await agent(hub.port, "alpha");
    const beta = await agent(hub.port, "beta", { groups: ["ops"], capabilities: ["compute"] });
    const gamma = await agent(hub.port, "gamma", { groups: ["ops"] });
    const [a, b, g] = [inbox(alpha), inbox(beta), inbox(gamma)];
    await alpha.send({ to: "beta", json: 1, requiresAck: true });
    await alpha.send({ to: "group:ops", json: 2, requiresAck: true });
    await alpha.send({ to: "capability:compute", json: 3, requiresAck: true });
    await alpha.send({ to: "fleet:broadcast", json: 4, requiresAck: true });
    await until(() => b.length === 4 && g.length === 2, 5_000, "deliveries");
    const payloads = (list: typeof b) => list.map((m) => (m.env.body?.kind.value as { content: { value: string } }).content.value);
    expect(payloads(b)).toEqual(["1", "2", "3", "4"]);
    expect(payloads(g)).toEqual(["2", "4"]);
    expect(a).toEqual([]); // never back to the sender
    expect([...b, ...g].every((m) => m.verified && m.env.sender === "alpha")).toBe(true);
  });

  it("refuses a capability nobody online offers (303) and an empty group (805) instead of acknowledging them", async () => {
    const hub = await inProcessHub();
    const alpha = await agent(hub.port, "alpha", { receiptAttempts: 1 });
    await expect(alpha.send({ to: "capability:teleport", json: 1, requiresAck: true })).rejects.toSatisfy((e: unknown) => isFleetError(e, ErrorCode.DISCOVERY_CAPABILITY_NOT_FOUND));
    await expect(alpha.send({ to: "group:nobody", json: 1, requiresAck: true })).rejects.toSatisfy((e: unknown) => isFleetError(e, ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE));
  });

  it("forwards session-authenticated messages too, marked unverified", async () => {
    const hub = await inProcessHub();
    const alpha = await agent(hub.port, "alpha");
    const beta = await agent(hub.port, "beta");
    const b = inbox(beta);
    await alpha.send({ to: "beta", text: "cheap", sign: false, requiresAck: true });
    await until(() => b.length === 1);
    expect(b[0].verified).toBe(false);
    expect(b[0].env.sender).toBe("alpha");
  });

  it("answers registry queries with presence", async () => {
    const hub = await inProcessHub();
    const alpha = await agent(hub.port, "alpha", { capabilities: ["compute@2"] });
    const beta = await agent(hub.port, "beta");
    await beta.close();
    const all = await alpha.queryRegistry({});
    expect(all.agents.map((x) => x.agentId)).toEqual(["alpha", "beta"]);
    const online = await alpha.queryRegistry({ onlineOnly: true });
    expect(online.agents.map((x) => x.agentId)).toEqual(["alpha"]);
    const compute = await alpha.queryRegistry({ capability: "compute" });
    expect(compute.agents.map((x) => [x.agentId, x.capabilities[0].version])).toEqual([["alpha", "2"]]);
  });

  it("stores messages for offline agents and delivers them, verified, on connect", async () => {
    const hub = await inProcessHub();
    const alpha = await agent(hub.port, "alpha");
    const receipt = await alpha.send({ to: "beta", json: { later: true }, requiresAck: true });
    expect(receipt?.status).toBe(ReceiptStatus.ACCEPTED);
    await alpha.send({ to: "beta", json: { fireAndForget: true } });
    await until(() => hub.hub.stats().inbox === 2, 5_000, "stored rows");
    const beta = await agent(hub.port, "beta");
    const b = inbox(beta);
    await until(() => b.length === 2, 5_000, "backlog");
    expect(b.every((m) => m.verified)).toBe(true);
    // Both rows are gone once delivered (acked / written out).
    await until(() => hub.hub.stats().inbox === 0, 5_000, "rows removed");
  });

  it("answers a retried id with a duplicate receipt and delivers it once", async () => {
    const hub = await inProcessHub();
    const alpha = await agent(hub.port, "alpha");
    const beta = await agent(hub.port, "beta");
    const b = inbox(beta);
    const env = buildEnvelope({ to: "beta", json: "once", requiresAck: true }, "alpha", systemClock);
    const first = await alpha.sendEnvelope(env);
    const again = await alpha.sendEnvelope(env);
    expect(first?.status).toBe(ReceiptStatus.ACCEPTED);
    expect(again?.code).toBe(ErrorCode.DELIVERY_DUPLICATE);
    await until(() => b.length >= 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(b.length).toBe(1);
  });
});

describe("hub: signatures and storage failures", () => {
  const tampered = (id: ReturnType<typeof generateIdentity>, to: string) => {
    const signed = signEnvelope(buildEnvelope({ to, text: "original" }, id.agent, systemClock), id);
    signed.signature!.sig[0] ^= 1;
    return encodePacket(create(PacketSchema, { kind: { case: "signed", value: signed } }));
  };

  it("with verify: none, forwards a bad signature unchanged and the recipient drops it (601)", async () => {
    const hub = await inProcessHub({ verify: "none" });
    const alphaId = generateIdentity("alpha");
    const alpha = await connectHub({ port: hub.port, identity: alphaId });
    const beta = await agent(hub.port, "beta");
    await alpha.queryRegistry({}); // beta's key is known to the hub by now
    const got = inbox(beta);
    const drops: FleetError[] = [];
    beta.onDrop((e) => drops.push(e));
    alpha.sendRaw(tampered(alphaId, "beta"));
    await until(() => drops.length === 1, 5_000, "recipient drop");
    expect(drops[0].code).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(got).toEqual([]);
  });

  it("with verify: all, the hub itself refuses a bad signature with an error frame (601)", async () => {
    const hub = await inProcessHub({ verify: "all" });
    const alphaId = generateIdentity("alpha");
    const alpha = await connectHub({ port: hub.port, identity: alphaId });
    const beta = await agent(hub.port, "beta");
    const got = inbox(beta);
    await until(() => hub.hub.isOnline("alpha"), 5_000, "alpha online");
    const closed = new Promise<FleetError | undefined>((r) => alpha.onClose(r));
    alpha.sendRaw(tampered(alphaId, "beta"));
    expect((await closed)?.code).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(got).toEqual([]);
  });

  it("acknowledges nothing it could not store (808 on a full disk) and delivers everything it acknowledged", async () => {
    const hub = await inProcessHub({ storeMaxBytes: 96 * 1024 });
    const alpha = await agent(hub.port, "alpha", { receiptAttempts: 1 });
    const accepted: string[] = [];
    let failure: unknown;
    for (let i = 0; i < 400 && !failure; i++) {
      try {
        await alpha.send({ id: `m-${i}`, to: "beta", text: "x".repeat(1024), requiresAck: true });
        accepted.push(`m-${i}`);
      } catch (e) {
        failure = e;
      }
    }
    expect(isFleetError(failure, ErrorCode.DELIVERY_STORE_FAILED)).toBe(true);
    expect(accepted.length).toBeGreaterThan(0);
    const beta = await agent(hub.port, "beta");
    const got = inbox(beta);
    await until(() => got.length === accepted.length, 5_000, "every accepted message");
    await new Promise((r) => setTimeout(r, 100));
    expect(got.map((m) => m.env.id)).toEqual(accepted);
  });
});

describe("hub: protection", () => {
  it("rate-limits each sender with a token bucket (803 with retry_after)", async () => {
    const clock = new FakeClock(Date.now());
    const hub = await inProcessHub({ clock, ratePerSecond: 1, rateBurst: 2 });
    const alpha = await agent(hub.port, "alpha", { clock, receiptAttempts: 1 });
    await agent(hub.port, "beta", { clock });
    await alpha.send({ to: "beta", json: 1, requiresAck: true });
    await alpha.send({ to: "beta", json: 2, requiresAck: true });
    await expect(alpha.send({ to: "beta", json: 3, requiresAck: true })).rejects.toSatisfy((e: unknown) => isFleetError(e, ErrorCode.DELIVERY_RATE_LIMITED));
    clock.advance(1_000); // one token back
    await expect(alpha.send({ to: "beta", json: 4, requiresAck: true })).resolves.toBeDefined();
  });

  it("closes idle connections with an 809 error frame", async () => {
    const clock = new FakeClock(Date.now());
    const hub = await inProcessHub({ clock, idleTimeoutMs: 30_000 });
    const alpha = await agent(hub.port, "alpha"); // real clock: its heartbeats stay silent here
    await until(() => hub.hub.isOnline("alpha"), 5_000, "alpha online");
    const closed = new Promise<FleetError | undefined>((r) => alpha.onClose(r));
    clock.advance(31_000);
    expect((await closed)?.code).toBe(ErrorCode.DELIVERY_IDLE_TIMEOUT);
  });

  it("closes a connection that does not finish the handshake (101)", async () => {
    const clock = new FakeClock(Date.now());
    const hub = await inProcessHub({ clock });
    const raw = await rawSocket(hub.port);
    await until(() => hub.hub.stats().connections === 1);
    clock.advance(11_000);
    await raw.closed;
    expect(errorCodeOf(raw.frames)).toBe(ErrorCode.HANDSHAKE_TIMEOUT);
  });

  it("answers garbage with an error frame (704) and a close, and keeps serving", async () => {
    const hub = await inProcessHub();
    const raw = await rawSocket(hub.port);
    raw.socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await raw.closed;
    expect(errorCodeOf(raw.frames)).toBe(ErrorCode.WIRE_BAD_MAGIC);
    const alpha = await agent(hub.port, "alpha");
    await until(() => hub.hub.isOnline(alpha.agent), 5_000, "alpha online");
  });

  it("refuses an oversize frame before reading its body (703)", async () => {
    const hub = await inProcessHub({ maxFrameBytes: 4096 });
    const raw = await rawSocket(hub.port);
    const header = new Uint8Array([0x46, 0x50, 1, 0, 0, 0x10, 0, 0]); // 1 MiB announced
    raw.socket.write(header);
    await raw.closed;
    expect(errorCodeOf(raw.frames)).toBe(ErrorCode.WIRE_FRAME_TOO_LARGE);
  });

  it("answers bytes that frame correctly but are not a Packet with 701 and a close", async () => {
    const hub = await inProcessHub();
    const raw = await rawSocket(hub.port);
    raw.socket.write(encodeFrame(new Uint8Array([0xff, 0xff, 0xff, 0xff])));
    await raw.closed;
    expect([ErrorCode.WIRE_MALFORMED, ErrorCode.VALIDATION_WRONG_TYPE]).toContain(errorCodeOf(raw.frames));
  });

  it("cleans up a client that vanishes mid-frame", async () => {
    const hub = await inProcessHub();
    const raw = await rawSocket(hub.port);
    await until(() => hub.hub.stats().connections === 1);
    raw.socket.write(new Uint8Array([0x46, 0x50, 1, 0, 0, 0, 1, 0, 1, 2, 3])); // 256-byte frame, 3 bytes of it
    raw.socket.destroy();
    await until(() => hub.hub.stats().connections === 0, 5_000, "connection cleanup");
    const alpha = await agent(hub.port, "alpha");
    await until(() => hub.hub.isOnline(alpha.agent), 5_000, "alpha online");
  });

  it("gives busy receipts (804) for a consumer that stops reading, then disconnects it", async () => {
    const clock = new FakeClock(Date.now());
    const hub = await inProcessHub({ clock, maxQueueBytes: 64 * 1024, slowConsumerMs: 2_000, ratePerSecond: 0 });
    const alpha = await agent(hub.port, "alpha", { clock, receiptAttempts: 1 });
    const slow = await agent(hub.port, "slow", { clock });
    // Stop reading on the slow side: the kernel buffers fill, then the hub's queue grows.
    pauseSocket(slow);
    const big = "x".repeat(16 * 1024);
    let busy: FleetError | undefined;
    for (let i = 0; i < 4_000 && !busy; i++) {
      if (i % 50 === 49) {
        try {
          await alpha.send({ to: "slow", text: big, requiresAck: true, sign: false });
        } catch (e) {
          if (isFleetError(e, ErrorCode.DELIVERY_BUSY)) busy = e;
          else throw e;
        }
      } else await alpha.send({ to: "slow", text: big, sign: false });
    }
    expect(busy?.code).toBe(ErrorCode.DELIVERY_BUSY);
    expect(hub.hub.isOnline("slow")).toBe(true);
    clock.advance(3_000);
    expect(hub.hub.isOnline("slow")).toBe(false);
  });
});

/** Stops reading a client's TCP socket (reaching into private fields: test only). */
function pauseSocket(c: HubConnection): void {
  const conn = (c as unknown as { o: { conn: { socket: { pause(): void } } } }).o.conn;
  conn.socket.pause();
}
