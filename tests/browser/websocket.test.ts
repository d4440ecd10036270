// The WebSocket carrier in Node (`ws` on both sides): one frame per binary message, the
// shared decoder's errors, the hub's error frame before close, origin rules, backpressure.
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { encodeFrame, FRAME_HEADER_BYTES } from "../../runtime/codec/index.js";
import { ErrorCode, FleetError } from "../../runtime/errors.js";
import { listenWebSocket, originAllowed } from "../../runtime/hub/websocket-listener.js";
import type { FrameConnection, FrameListener } from "../../runtime/transport/listener.js";
import { connectWebSocket, FLEET_WS_PROTOCOL, type WebSocketConstructor } from "../../runtime/transport/websocket.js";

const WS = WebSocket as unknown as WebSocketConstructor;
const bytes = (...b: number[]) => Uint8Array.from(b);
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** Resolves with the first value a callback-style registration delivers (bounded wait). */
function next<T>(register: (cb: (v: T) => void) => void, what: string, ms = 5_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    register((v) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}

async function listen(opts: Parameters<typeof listenWebSocket>[0] = {}): Promise<{ listener: FrameListener; accepted: Promise<FrameConnection> }> {
  const listener = await listenWebSocket(opts);
  cleanup.push(() => listener.close());
  const accepted = next<FrameConnection>((cb) => listener.onConnection(cb), "a connection");
  return { listener, accepted };
}

/** A raw `ws` client, to send what a well-behaved client never would. */
async function raw(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, FLEET_WS_PROTOCOL, { headers });
  cleanup.push(() => ws.terminate());
  await next<void>((cb) => ws.once("open", () => cb()), "open");
  return ws;
}

describe("WebSocket frames", () => {
  it("carries frame bodies both ways, in order, one frame per binary message", async () => {
    const { listener, accepted } = await listen();
    expect(listener.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    const client = await connectWebSocket(listener.url, { WebSocket: WS });
    cleanup.push(() => client.close());
    const server = await accepted;
    expect(server.remote).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);

    const got: number[][] = [];
    const three = new Promise<void>((done) =>
      server.onFrame((b) => {
        got.push(Array.from(b.subarray(0, 2)));
        if (got.length === 3) done();
      }),
    );
    const big = new Uint8Array(1 << 20).fill(7);
    big[0] = 9;
    client.send(bytes(1, 2));
    client.send(big);
    client.send(bytes(3));
    await three;
    expect(got).toEqual([[1, 2], [9, 7], [3]]);

    const back = next<Uint8Array>((cb) => client.onFrame(cb), "a frame from the server");
    server.send(bytes(42, 43));
    expect(Array.from(await back)).toEqual([42, 43]);
  });

  it("puts exactly one frame, header included, in each WebSocket message", async () => {
    const { listener, accepted } = await listen();
    const ws = await raw(listener.url);
    expect(ws.protocol).toBe(FLEET_WS_PROTOCOL);
    const server = await accepted;
    const msg = next<Buffer>((cb) => ws.once("message", (d: Buffer) => cb(d)), "message");
    server.send(bytes(5, 6, 7));
    expect(Array.from(await msg)).toEqual(Array.from(encodeFrame(bytes(5, 6, 7))));
  });

  for (const [what, message, code] of [
    ["bad magic", bytes(0x47, 0x50, 1, 0, 0, 0, 0, 1, 0), ErrorCode.WIRE_BAD_MAGIC],
    ["two frames in one message", new Uint8Array([...encodeFrame(bytes(1)), ...encodeFrame(bytes(2))]), ErrorCode.WIRE_MALFORMED],
    ["a cut frame", encodeFrame(bytes(1, 2, 3)).subarray(0, 10), ErrorCode.WIRE_TRUNCATED],
    ["a zero length", bytes(0x46, 0x50, 1, 0, 0, 0, 0, 0), ErrorCode.WIRE_FRAME_TOO_LARGE],
  ] as const) {
    it(`reports ${what} as ${code}, and the owner's error frame reaches the peer before the close`, async () => {
      const { listener, accepted } = await listen();
      const ws = await raw(listener.url);
      const server = await accepted;
      const frames: Uint8Array[] = [];
      server.onFrame((b) => frames.push(b));
      const error = next<FleetError>((cb) => server.onError(cb), "onError");
      const lastMessage = next<Buffer>((cb) => ws.once("message", (d: Buffer) => cb(d)), "error frame");
      const closed = next<number>((cb) => ws.once("close", (c: number) => cb(c)), "close");
      ws.send(message);
      const e = await error;
      expect(e).toBeInstanceOf(FleetError);
      expect(e.code).toBe(code);
      server.close(bytes(0xee, 0xff));
      expect(Array.from(await lastMessage)).toEqual(Array.from(encodeFrame(bytes(0xee, 0xff))));
      expect(await closed).toBe(1008);
      expect(frames).toEqual([]);
    });
  }

  it("rejects text messages with 701", async () => {
    const { listener, accepted } = await listen();
    const ws = await raw(listener.url);
    const server = await accepted;
    const error = next<FleetError>((cb) => server.onError(cb), "onError");
    ws.send("hello");
    expect((await error).code).toBe(ErrorCode.WIRE_MALFORMED);
  });

  it("closes a message longer than the frame limit unread (1009) and reports the close", async () => {
    const { listener, accepted } = await listen({ maxFrameBytes: 1024 });
    const ws = await raw(listener.url);
    const server = await accepted;
    const gone = next<void>((cb) => server.onClose(() => cb()), "onClose");
    const code = next<number>((cb) => ws.once("close", (c: number) => cb(c)), "close");
    ws.send(new Uint8Array(1024 + FRAME_HEADER_BYTES + 1));
    expect(await code).toBe(1009);
    await gone;
  });

  it("lets loopback pages and non-browser clients in, refuses other origins with 403", async () => {
    expect(originAllowed(undefined)).toBe(true);
    expect(originAllowed("http://127.0.0.1:5173")).toBe(true);
    expect(originAllowed("http://localhost:3000")).toBe(true);
    expect(originAllowed("https://evil.example")).toBe(false);
    expect(originAllowed("null")).toBe(false);
    expect(originAllowed("https://fleet.example", ["https://fleet.example"])).toBe(true);
    expect(originAllowed("https://evil.example", "*")).toBe(true);

    const { listener } = await listen();
    await raw(listener.url, { origin: "http://127.0.0.1:8080" });
    const ws = new WebSocket(listener.url, { headers: { origin: "https://evil.example" } });
    ws.on("error", () => undefined);
    const status = await next<number>((cb) => ws.once("unexpected-response", (_req, res) => cb(res.statusCode ?? 0)), "refusal");
    expect(status).toBe(403);
  });

  it("fails to connect with 805 when nobody listens, and without a WebSocket class with a typed error", async () => {
    const { listener } = await listen();
    const url = listener.url;
    await listener.close();
    await expect(connectWebSocket(url, { WebSocket: WS })).rejects.toMatchObject({ code: ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE });
    if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === "undefined") {
      await expect(connectWebSocket(url)).rejects.toBeInstanceOf(FleetError);
    }
  });

  it("reports a backlog in bufferedAmount and calls onDrain once the peer reads again", async () => {
    const { listener, accepted } = await listen();
    const ws = await raw(listener.url);
    const server = await accepted;
    // Stop reading on the client so the server's writes back up.
    (ws as unknown as { _socket: import("node:net").Socket })._socket.pause();
    const chunk = new Uint8Array(256 * 1024);
    for (let i = 0; i < 64 && server.bufferedAmount === 0; i++) server.send(chunk);
    for (let i = 0; i < 64; i++) server.send(chunk);
    expect(server.bufferedAmount).toBeGreaterThan(0);
    const drained = next<void>((cb) => server.onDrain(() => cb()), "onDrain", 10_000);
    (ws as unknown as { _socket: import("node:net").Socket })._socket.resume();
    await drained;
    expect(server.bufferedAmount).toBe(0);
  });
});
