// The TCP carrier writes each frame as header + body without concatenating them: over a real
// loopback socket the bytes must be exactly encodeFrame's, whatever FrameDecoder makes of them.
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { encodeFrame, FrameDecoder, MAX_FRAME_BYTES } from "../../runtime/codec/index.js";
import { ErrorCode, FleetError } from "../../runtime/errors.js";
import { connectTcp, frameConnectionFromSocket, listenTcp } from "../../runtime/transport/tcp.js";
import type { FrameConnection, FrameListener } from "../../runtime/transport/listener.js";

const TIMEOUT_MS = 10_000;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Varied bodies: 1..97 bytes, content from their index, so a shifted byte shows. */
function smallBodies(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => Uint8Array.from({ length: 1 + ((i * 31) % 97) }, (_, k) => (i * 7 + k) & 0xff));
}

function maxBody(): Uint8Array {
  return Uint8Array.from({ length: MAX_FRAME_BYTES }, (_, k) => (k * 13 + 5) & 0xff);
}

/** A plain node:net server that keeps every byte it receives (no Fleet code on that side). */
async function rawServer(): Promise<{ port: number; sockets: Promise<Socket>; server: Server }> {
  const server = createServer();
  let accept: (s: Socket) => void = () => {};
  const sockets = new Promise<Socket>((r) => (accept = r));
  server.on("connection", (s) => accept(s));
  await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0 }, () => r()));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as { port: number }).port, sockets, server };
}

/** Resolves with all bytes once `want` have arrived (bounded by TIMEOUT_MS). */
function collect(socket: Socket, want: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let have = 0;
    const timer = setTimeout(() => reject(new Error(`only ${have} of ${want} bytes arrived`)), TIMEOUT_MS);
    socket.on("data", (c: Buffer) => {
      chunks.push(c);
      have += c.length;
      if (have >= want) {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks));
      }
    });
  });
}

async function client(port: number): Promise<FrameConnection> {
  const conn = await connectTcp("127.0.0.1", port);
  cleanups.push(() => conn.close());
  return conn;
}

function caughtCode(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FleetError);
    return (e as FleetError).code;
  }
  return undefined;
}

describe("TCP frame writes (header and body written separately)", () => {
  it("puts exactly encodeFrame's bytes on the wire, for many small frames and a max-size frame", async () => {
    const raw = await rawServer();
    const conn = await client(raw.port);
    const socket = await raw.sockets;
    const bodies = [...smallBodies(2_000), maxBody(), ...smallBodies(50)];
    const expected = Buffer.concat(bodies.map((b) => encodeFrame(b)));
    const got = collect(socket, expected.length);
    // Several ticks of writes, so both corked batches and single frames are covered.
    for (let i = 0; i < bodies.length; i++) {
      conn.send(bodies[i]);
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    }
    const bytes = await got;
    expect(bytes.length).toBe(expected.length);
    expect(bytes.equals(expected)).toBe(true);
    // And the shared decoder reads them back as the same bodies.
    const decoder = new FrameDecoder();
    const decoded = decoder.push(bytes);
    decoder.end();
    expect(decoded.length).toBe(bodies.length);
    for (let i = 0; i < bodies.length; i++) expect(Buffer.from(decoded[i]).equals(Buffer.from(bodies[i]))).toBe(true);
  });

  it("hands the socket the caller's body itself (no copy) after an 8-byte header", async () => {
    const raw = await rawServer();
    const socket = createConnection({ host: "127.0.0.1", port: raw.port });
    await new Promise((r) => socket.once("connect", r));
    const writes: Uint8Array[] = [];
    const write = socket.write.bind(socket);
    socket.write = ((chunk: Uint8Array, ...rest: never[]) => (writes.push(chunk), write(chunk, ...rest))) as typeof socket.write;
    const conn = frameConnectionFromSocket(socket);
    cleanups.push(() => conn.close());
    const body = new Uint8Array(1_024).fill(7);
    const got = collect(await raw.sockets, 1_032);
    conn.send(body);
    expect(writes.length).toBe(2);
    expect(writes[0]).toEqual(encodeFrame(body).subarray(0, 8));
    expect(writes[1]).toBe(body);
    expect((await got).equals(Buffer.from(encodeFrame(body)))).toBe(true);
  });

  it("a TCP listener decodes them frame for frame, in order", async () => {
    const listener: FrameListener = await listenTcp();
    cleanups.push(() => listener.close());
    const bodies = [...smallBodies(3_000), maxBody(), Uint8Array.of(0x46, 0x50, 1, 0)];
    const received: Uint8Array[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${received.length} of ${bodies.length} frames arrived`)), TIMEOUT_MS);
      listener.onConnection((server) => {
        server.onError((e) => reject(e));
        server.onFrame((body) => {
          received.push(body);
          if (received.length === bodies.length) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    });
    const conn = await client(listener.port);
    for (const b of bodies) conn.send(b);
    await done;
    for (let i = 0; i < bodies.length; i++) expect(Buffer.from(received[i]).equals(Buffer.from(bodies[i]))).toBe(true);
  });

  it("refuses an empty or oversize body with 703 and queues nothing for it", async () => {
    const raw = await rawServer();
    const conn = await client(raw.port);
    const socket = await raw.sockets;
    expect(caughtCode(() => conn.send(new Uint8Array(MAX_FRAME_BYTES + 1)))).toBe(ErrorCode.WIRE_FRAME_TOO_LARGE);
    expect(caughtCode(() => conn.send(new Uint8Array(0)))).toBe(ErrorCode.WIRE_FRAME_TOO_LARGE);
    expect(conn.bufferedAmount).toBe(0);
    // The connection is still good: the next frame is the first thing on the wire.
    const next = Uint8Array.of(9, 8, 7);
    const got = collect(socket, 11);
    conn.send(next);
    expect((await got).equals(Buffer.from(encodeFrame(next)))).toBe(true);
  });

  it("counts header and body in bufferedAmount, and signals drain after a backlog", async () => {
    const raw = await rawServer();
    const conn = await client(raw.port);
    const socket = await raw.sockets;
    socket.pause();
    // Corked until the next tick: everything sent now is still queued, header included.
    conn.send(new Uint8Array(1_000).fill(1));
    expect(conn.bufferedAmount).toBe(1_008);
    // Far more than the kernel buffers hold while the peer does not read.
    const big = new Uint8Array(1 << 20).fill(2);
    for (let i = 0; i < 32; i++) conn.send(big);
    const total = 1_008 + 32 * ((1 << 20) + 8);
    expect(conn.bufferedAmount).toBe(total);
    const drained = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no drain")), TIMEOUT_MS);
      conn.onDrain(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    const got = collect(socket, total);
    socket.resume();
    await drained;
    const bytes = await got;
    const decoder = new FrameDecoder();
    const bodies = decoder.push(bytes);
    expect(bodies.length).toBe(33);
    expect(bodies[0].length).toBe(1_000);
    expect(bodies.slice(1).every((b) => b.length === 1 << 20 && b[0] === 2 && b[b.length - 1] === 2)).toBe(true);
  });
});
