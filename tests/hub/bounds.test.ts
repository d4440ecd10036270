// Bounded under hostile peers (issue 12), tested from outside: real hub processes, raw
// sockets, bounded loops. Each case failed before its bound existed.
import { readFileSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ApplicationPayloadSchema } from "../../generated/proto/fleet/v1/payload_pb.js";
import { AgentRecordSchema, RegistryQueryResultSchema } from "../../generated/proto/fleet/v1/registry_pb.js";
import { applicationValue } from "../../runtime/client/draft.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { type Clock, FakeClock, systemClock } from "../../runtime/clock.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { createBottle } from "../../runtime/protocol/bottles.js";
import { limitRegistryAnswer, MAX_REGISTRY_ANSWER_BYTES } from "../../runtime/protocol/registry-answer.js";
import { HUB_OP_MEDIA_TYPE } from "../../runtime/hub/hub-requests.js";
import type { FrameConnection } from "../../runtime/transport/listener.js";
import { connectTcp, frameConnectionFromSocket } from "../../runtime/transport/tcp.js";
import { connectWebSocket, FLEET_WS_PROTOCOL, type WebSocketConstructor } from "../../runtime/transport/websocket.js";
import { WebSocket } from "ws";
import { cleanup, encodeFrame, envelopeOfFrame, inProcessHub, rawSocket, runCli, spawnHub, tmpDir, until } from "./support.js";

afterEach(cleanup);

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: "127.0.0.1", port });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

/** A WebSocket upgraded by hand over a raw socket, to send frame headers no client library would. */
async function rawWebSocket(port: number): Promise<{ socket: Socket; received: () => Buffer; closed: Promise<void> }> {
  const socket = await openSocket(port);
  let data = Buffer.alloc(0);
  socket.on("data", (d: Buffer) => (data = Buffer.concat([data, d])));
  socket.on("error", () => {});
  const closed = new Promise<void>((r) => socket.once("close", () => r()));
  socket.write(
    [
      "GET / HTTP/1.1",
      `Host: 127.0.0.1:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${Buffer.from("fleet-bounds-key").toString("base64")}`,
      "Sec-WebSocket-Version: 13",
      `Sec-WebSocket-Protocol: ${FLEET_WS_PROTOCOL}`,
      "",
      "",
    ].join("\r\n"),
  );
  await until(() => data.includes("\r\n\r\n"), 5_000, "the upgrade response");
  const end = data.indexOf("\r\n\r\n") + 4;
  expect(data.subarray(0, end).toString()).toMatch(/^HTTP\/1\.1 101 /);
  const start = end;
  return { socket, received: () => data.subarray(start), closed };
}

/** The (unmasked, server-sent) WebSocket frames in bytes. */
function wsFrames(bytes: Buffer): { opcode: number; payload: Buffer }[] {
  const frames = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    const opcode = bytes[at] & 0x0f;
    let len = bytes[at + 1] & 0x7f;
    at += 2;
    if (len === 126) {
      len = bytes.readUInt16BE(at);
      at += 2;
    } else if (len === 127) {
      len = Number(bytes.readBigUInt64BE(at));
      at += 8;
    }
    frames.push({ opcode, payload: bytes.subarray(at, at + len) });
    at += len;
  }
  return frames;
}

const statusQuery = { to: "fleet:hub", type: MessageType.QUERY, sign: false, body: { case: "application" as const, value: create(ApplicationPayloadSchema, { mediaType: HUB_OP_MEDIA_TYPE, content: { case: "json", value: '{"op":"status"}' } }) } };

describe("per-connection buffers (1)", () => {
  it("cuts a client that never reads the hub's replies (804), rather than queueing them without end", async () => {
    const hub = await spawnHub(tmpDir(), ["--max-queue", "65536"]);
    const socket = await openSocket(hub.port);
    const c = await connectHub({ port: hub.port, identity: generateIdentity("sink"), conn: frameConnectionFromSocket(socket) });
    let closed = false;
    c.onClose(() => (closed = true));
    socket.on("close", () => (closed = true));
    socket.pause(); // never reads again: every answer stays queued at the hub
    const deadline = Date.now() + 20_000;
    let sent = 0;
    // Bounded: at most 200,000 queries or 20 s, and stops as soon as the hub cuts us.
    while (!closed && sent < 200_000 && Date.now() < deadline) {
      for (let i = 0; i < 500; i++) void c.send(statusQuery).catch(() => {});
      sent += 500;
      await new Promise((r) => setTimeout(r, 5));
    }
    await until(() => hub.output().includes("close sink: 804"), 15_000, "the hub to cut the non-reading client with 804");
    expect(hub.output()).toMatch(/close sink: 804 DELIVERY_BUSY slow consumer/);
  }, 60_000);
});

describe("before the handshake (2)", () => {
  it("refuses a frame larger than a Hello needs before buffering it (703)", async () => {
    const hub = await spawnHub(tmpDir());
    const raw = await rawSocket(hub.port);
    const header = Buffer.from([0x46, 0x50, 1, 0, 0, 0x11, 0, 0]); // announces 1,114,112 bytes
    raw.socket.write(header);
    raw.socket.write(Buffer.alloc(20_000, 7));
    await raw.closed;
    expect(raw.frames.length).toBe(1);
    const err = envelopeOfFrame(raw.frames[0]);
    expect(err.body?.kind.case === "error" && err.body.kind.value.code).toBe(703);
  });

  it("raises the limit for the very next frame once the handshake completes, even in the same TCP segment as the Confirm", async () => {
    const hub = await spawnHub(tmpDir());
    const socket = await openSocket(hub.port);
    const real = frameConnectionFromSocket(socket);
    let frames = 0;
    let held: Uint8Array | undefined;
    // The Confirm (second frame) is held back and written together with the first message.
    const coalescing: FrameConnection = {
      remote: real.remote,
      get bufferedAmount() {
        return real.bufferedAmount;
      },
      send: (body) => {
        frames++;
        if (frames === 2) held = body;
        else if (held) {
          socket.write(Buffer.concat([encodeFrame(held), encodeFrame(body)]));
          held = undefined;
        } else real.send(body);
      },
      close: (last) => real.close(last),
      onFrame: (h) => real.onFrame(h),
      onError: (h) => real.onError(h),
      onClose: (h) => real.onClose(h),
      onDrain: (h) => real.onDrain(h),
    };
    const alpha = await connectHub({ port: hub.port, identity: generateIdentity("alpha"), conn: coalescing, receiptAttempts: 1 });
    const receipt = await alpha.send({ to: "beta", text: "x".repeat(60_000), requiresAck: true });
    expect(receipt?.code).toBe(0);
  });

  it("refuses a WebSocket message larger than a Hello needs from its header (close 1009), before buffering it", async () => {
    const hub = await spawnHub(tmpDir(), ["--ws-port", "0"]);
    const ws = await rawWebSocket(hub.wsPort!);
    // One masked binary frame announcing 1,114,120 bytes (a full-size Fleet frame), of which
    // only 20,000 are ever sent: a hub that buffered it would wait for the rest (until its
    // 10 s handshake timeout, then 101 in a binary frame and close 1008).
    const header = Buffer.alloc(14);
    header[0] = 0x82; // FIN, binary
    header[1] = 0x80 | 127; // masked, 64-bit length
    header.writeBigUInt64BE(1_114_120n, 2);
    header.writeUInt32BE(0x01020304, 10); // mask
    ws.socket.write(header);
    ws.socket.write(Buffer.alloc(20_000, 7));
    await ws.closed;
    const frames = wsFrames(ws.received());
    expect(frames.map((f) => f.opcode)).toEqual([0x8]); // a close frame and nothing else
    expect(frames[0].payload.readUInt16BE(0)).toBe(1009);
  });

  it("raises a WebSocket connection's message limit once its handshake completes", async () => {
    const hub = await spawnHub(tmpDir(), ["--ws-port", "0"]);
    const conn = await connectWebSocket(`ws://127.0.0.1:${hub.wsPort!}`, { WebSocket: WebSocket as unknown as WebSocketConstructor });
    const alpha = await connectHub({ port: hub.port, identity: generateIdentity("alpha"), conn, receiptAttempts: 1 });
    const receipt = await alpha.send({ to: "beta", text: "x".repeat(60_000), requiresAck: true });
    expect(receipt?.code).toBe(0);
    await alpha.close();
  });

  it("caps connections still handshaking: one more is refused with 804", async () => {
    const hub = await spawnHub(tmpDir(), ["--max-pending", "4"]);
    const idle = [];
    for (let i = 0; i < 4; i++) idle.push(await rawSocket(hub.port));
    const extra = await rawSocket(hub.port);
    await extra.closed;
    expect(extra.frames.length).toBe(1);
    const err = envelopeOfFrame(extra.frames[0]);
    expect(err.body?.kind.case === "error" && err.body.kind.value.code).toBe(804);
    // The four pending ones are still open, and an agent gets in once one of them leaves.
    expect(idle.every((r) => !r.socket.destroyed)).toBe(true);
    idle[0].socket.destroy();
    await idle[0].closed;
    // The hub notices the close in its own time (a loaded machine): a few bounded tries.
    let c;
    for (let i = 0; i < 20 && !c; i++) {
      c = await connectHub({ port: hub.port, identity: generateIdentity("late") }).catch(() => new Promise<undefined>((r) => setTimeout(r, 100)));
    }
    expect(c).toBeDefined();
    await c!.close();
  });
});

async function hubStatus(c: Awaited<ReturnType<typeof connectHub>>): Promise<{ inbox: number; rejected: number }> {
  const answer = await c.request(statusQuery);
  return applicationValue(answer) as { inbox: number; rejected: number };
}

describe("forged and long-lived messages (3)", () => {
  it("with --verify none never stores a packet whose signature is forged (601), acked or not", async () => {
    const hub = await spawnHub(tmpDir());
    // beta is known to the hub (connected once) and offline now.
    const beta = await connectHub({ port: hub.port, identity: generateIdentity("beta") });
    await beta.close();
    const alpha = await connectHub({ port: hub.port, identity: generateIdentity("alpha") });
    const before = await hubStatus(alpha);
    for (const requiresAck of [true, false]) {
      const packet = alpha.signPacket({ to: "beta", text: "forged", requiresAck });
      packet[packet.length - 1] ^= 0x01; // the last byte is the signature's last byte
      alpha.sendRaw(packet);
    }
    // A genuine one behind them is stored, so the forged ones were judged first.
    await alpha.send({ to: "beta", text: "genuine", requiresAck: true });
    const after = await hubStatus(alpha);
    expect(after.inbox - before.inbox).toBe(1);
    expect(after.rejected - before.rejected).toBe(2);
  });

  it("refuses ttl_seconds over 30 days (709) rather than keep a row until 2153", async () => {
    const hub = await spawnHub(tmpDir());
    const alpha = await connectHub({ port: hub.port, identity: generateIdentity("alpha"), receiptAttempts: 1 });
    await expect(alpha.send({ to: "beta", text: "forever", requiresAck: true, ttlSeconds: 4_000_000_000 })).rejects.toMatchObject({ code: 709 });
    await alpha.send({ to: "beta", text: "a month", requiresAck: true, ttlSeconds: 2_592_000 });
    expect((await hubStatus(alpha)).inbox).toBe(1);
  });
});

describe("storage quotas (4)", () => {
  it("refuses with 804 once a recipient's inbox, or the pool for names never admitted, is full", async () => {
    const hub = await spawnHub(tmpDir(), ["--inbox-quota", "100000", "--unknown-quota", "30000"]);
    const betaId = generateIdentity("beta");
    const beta = await connectHub({ port: hub.port, identity: betaId });
    await beta.close();
    const alpha = await connectHub({ port: hub.port, identity: generateIdentity("alpha"), receiptAttempts: 1 });
    const body = "x".repeat(9_000);
    const fill = async (to: string): Promise<number> => {
      for (let i = 0; i < 50; i++) {
        try {
          await alpha.send({ to, text: body, requiresAck: true });
        } catch (e) {
          expect(e).toMatchObject({ code: 804 });
          return i;
        }
      }
      return -1;
    };
    const toBeta = await fill("beta");
    expect(toBeta).toBeGreaterThanOrEqual(9); // ~9.3 KB each under 100,000 bytes
    expect(toBeta).toBeLessThanOrEqual(10);
    const toNobody = await fill("nobody-ever");
    expect(toNobody).toBeGreaterThanOrEqual(2);
    expect(toNobody).toBeLessThanOrEqual(3);
    // Once beta reads (and acknowledges) its inbox, the space is free again.
    const beta2 = await connectHub({ port: hub.port, identity: betaId });
    const got: string[] = [];
    beta2.onMessage((env) => got.push(env.id));
    await until(() => got.length === toBeta, 10_000, "beta's backlog");
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = (await hubStatus(alpha)).inbox <= 3;
      if (!ok) await new Promise((r) => setTimeout(r, 20));
    }
    await alpha.send({ to: "beta", text: body, requiresAck: true });
  });
});

describe("admission tokens (5)", () => {
  it("consumes a single-use token only when the handshake completes: a Hello alone does not burn it", async () => {
    const home = tmpDir();
    const hub = await spawnHub(home, ["--require-token"]);
    const file = join(home, "alpha.token");
    const issued = await runCli(["token", "issue", "--out", file, "--uses", "1", "--subject", "alpha"], home);
    expect(issued.code).toBe(0);
    const admissionToken = readFileSync(file, "utf8").trim();
    const alphaId = generateIdentity("alpha");
    // A connection whose Confirm never reaches the hub (dropped, or the client gave up and retried).
    const real = await connectTcp("127.0.0.1", hub.port);
    let frames = 0;
    const helloOnly: FrameConnection = {
      remote: real.remote,
      get bufferedAmount() {
        return real.bufferedAmount;
      },
      send: (body) => {
        if (frames++ === 0) real.send(body);
      },
      close: (last) => real.close(last),
      onFrame: (h) => real.onFrame(h),
      onError: (h) => real.onError(h),
      onClose: (h) => real.onClose(h),
      onDrain: (h) => real.onDrain(h),
    };
    const dropped = await connectHub({ port: hub.port, identity: alphaId, admissionToken, conn: helloOnly });
    await dropped.close();
    // The use is still there: the real handshake gets in, and only then is the token spent.
    const alpha = await connectHub({ port: hub.port, identity: alphaId, admissionToken });
    expect((await hubStatus(alpha)).inbox).toBe(0);
    await alpha.close();
    await expect(connectHub({ port: hub.port, identity: alphaId, admissionToken })).rejects.toMatchObject({ code: 608 });
  });
});

describe("bottles (6)", () => {
  it("refuses a bottle letter dated ten years ahead (605) and holds nothing", async () => {
    const hub = await spawnHub(tmpDir());
    const alphaId = generateIdentity("alpha");
    const alpha = await connectHub({ port: hub.port, identity: alphaId, receiptAttempts: 1 });
    const ahead = new FakeClock(Date.now() + 10 * 365 * 86_400_000);
    const letter = (clock: Clock) => createBottle(alphaId, clock, { to: { agent: "beta" }, condition: "always", payload: create(ApplicationPayloadSchema, { mediaType: "application/json", content: { case: "json", value: "\"hi\"" } }) });
    await expect(alpha.send({ to: "fleet:hub", body: { case: "bottle", value: letter(ahead) }, requiresAck: true })).rejects.toMatchObject({ code: 605 });
    // The same letter dated now is held.
    const ok = await alpha.send({ to: "fleet:hub", body: { case: "bottle", value: letter(systemClock) }, requiresAck: true });
    expect(ok?.code).toBe(0);
  });

  it("holds at most maxHeldBottles bottles at once (804 for one more)", async () => {
    const running = await inProcessHub({ maxHeldBottles: 2 });
    const alphaId = generateIdentity("alpha");
    const alpha = await connectHub({ port: running.port, identity: alphaId, receiptAttempts: 1 });
    const drop = () => alpha.send({ to: "fleet:hub", body: { case: "bottle", value: createBottle(alphaId, systemClock, { to: { agent: "beta" }, condition: "agent_online:beta", payload: create(ApplicationPayloadSchema, { mediaType: "application/json", content: { case: "json", value: "1" } }) }) }, requiresAck: true });
    await drop();
    await drop();
    await expect(drop()).rejects.toMatchObject({ code: 804 });
  });
});

describe("idle state (9)", () => {
  it("forgets rate buckets once refilled, and identities that never did anything (pins and registry entries), under --prune-idle-ms", async () => {
    const hub = await spawnHub(tmpDir(), ["--prune-idle-ms", "1000", "--rate", "1000", "--burst", "1000"]);
    // 30 throwaway identities: handshake, nothing else, gone.
    for (let i = 0; i < 30; i++) {
      const c = await connectHub({ port: hub.port, identity: generateIdentity(`throwaway-${i}`) });
      await c.close();
    }
    const betaId = generateIdentity("beta");
    const beta = await connectHub({ port: hub.port, identity: betaId });
    await beta.close();
    const alpha = await connectHub({ port: hub.port, identity: generateIdentity("alpha") });
    await alpha.send({ to: "beta", text: "stored for beta", requiresAck: true });
    // Within a few maintenance runs: only alpha (active) and beta (a message waits for it) are left.
    let s = await hubStatusFull(alpha);
    for (let i = 0; i < 100 && (s.pins > 2 || s.rateBuckets > 0); i++) {
      await new Promise((r) => setTimeout(r, 100));
      s = await hubStatusFull(alpha);
    }
    expect(s.pins).toBe(2);
    expect(s.rateBuckets).toBe(0);
    expect((await alpha.queryRegistry({})).agents.map((a) => a.agentId).sort()).toEqual(["alpha", "beta"]);
    const pruned = [...hub.output().matchAll(/pruned (\d+) idle identit/g)].reduce((n, m) => n + Number(m[1]), 0);
    expect(pruned).toBe(30);
    // A pruned name is free again; a kept one is still bound to its key (104 for another).
    const again = await connectHub({ port: hub.port, identity: generateIdentity("throwaway-0") });
    await again.close();
    await expect(connectHub({ port: hub.port, identity: generateIdentity("beta") })).rejects.toMatchObject({ code: 104 });
  }, 30_000);
});

async function hubStatusFull(c: Awaited<ReturnType<typeof connectHub>>): Promise<{ pins: number; rateBuckets: number }> {
  return applicationValue(await c.request(statusQuery)) as { pins: number; rateBuckets: number };
}

describe("registry answers (9)", () => {
  it("answers at most 256 agents at once, flagged truncated, and the client reads the rest with after_agent_id", async () => {
    const hub = await spawnHub(tmpDir());
    // 300 throwaway identities (open admission), 20 handshakes at a time.
    const names = Array.from({ length: 300 }, (_, i) => `agent-${String(i).padStart(3, "0")}`);
    for (let i = 0; i < names.length; i += 20) {
      await Promise.all(
        names.slice(i, i + 20).map(async (n) => {
          const c = await connectHub({ port: hub.port, identity: generateIdentity(n) });
          await c.close();
        }),
      );
    }
    const alpha = await connectHub({ port: hub.port, identity: generateIdentity("alpha") });
    const first = await alpha.queryRegistryPage();
    expect(first.agents.length).toBe(256);
    expect(first.truncated).toBe(true);
    const ids = first.agents.map((a) => a.agentId);
    expect(ids).toEqual([...ids].sort());
    const rest = await alpha.queryRegistryPage({ afterAgentId: ids.at(-1) });
    expect(rest.truncated).toBe(false);
    expect(rest.agents.length).toBe(301 - 256);
    expect(rest.agents.every((a) => a.agentId > ids.at(-1)!)).toBe(true);
    // queryRegistry reads every page: each agent once.
    const all = (await alpha.queryRegistry()).agents.map((a) => a.agentId);
    expect(all.length).toBe(301);
    expect(new Set(all)).toEqual(new Set([...names, "alpha"]));
    await alpha.close();
  }, 60_000);

  it("also stops an answer at 256 KiB of records, always keeping one agent so paging progresses", () => {
    const big = (i: number) => create(AgentRecordSchema, { agentId: `big-${String(i).padStart(3, "0")}`, keyId: "k", endpoints: ["x".repeat(10_000)] });
    const full = create(RegistryQueryResultSchema, { agents: Array.from({ length: 40 }, (_, i) => big(i)) });
    const answer = limitRegistryAnswer(full);
    const bytes = answer.agents.reduce((n, a) => n + toBinary(AgentRecordSchema, a).length, 0);
    expect(answer.truncated).toBe(true);
    expect(answer.agents.length).toBe(26); // 26 x 10,015 bytes fit in 262,144; 27 do not
    expect(bytes).toBeLessThanOrEqual(MAX_REGISTRY_ANSWER_BYTES);
    const huge = create(RegistryQueryResultSchema, { agents: [create(AgentRecordSchema, { agentId: "huge", endpoints: ["y".repeat(300_000)] }), big(1)] });
    const one = limitRegistryAnswer(huge);
    expect(one.agents.map((a) => a.agentId)).toEqual(["huge"]);
    expect(one.truncated).toBe(true);
  });
});
