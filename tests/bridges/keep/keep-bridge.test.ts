// The keep-protocol bridge against a keep client written from keep's wire rules (Python,
// real protobuf and cryptography), a real hub and a real Fleet agent: both directions, the
// discovery answers, and every refusal spec/bridges/keep.md lists.
import { execFileSync } from "node:child_process";
import { createConnection } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Envelope } from "../../../generated/proto/fleet/v1/envelope_pb.js";
import { connectHub } from "../../../runtime/client/hub-client.js";
import type { HubConnection } from "../../../runtime/client/connection.js";
import { generateIdentity, identityFromSeed, toHex } from "../../../runtime/crypto/index.js";
import { startKeepBridge, type KeepBridge } from "../../../runtime/bridges/keep/bridge.js";
import { KEEP_PACKET_MEDIA_TYPE } from "../../../runtime/bridges/keep/fleet-side.js";
import { decodeKeepPacket, encodeKeepPacket, keepPacket, keepSignedBytes, openKeepPacket, signKeepPacket } from "../../../runtime/bridges/keep/packet.js";
import { KeepFrameReader, keepFrame } from "../../../runtime/bridges/keep/frames.js";
import { hubConnector } from "../../../runtime/bridges/shared/fleet-link.js";
import { cleanup, inProcessHub, tmpDir, until } from "../../hub/support.js";
import { startPythonDriver, type PythonDriver } from "../support/python-driver.js";

const HERE = import.meta.dirname;

let bridge: KeepBridge;
let py: PythonDriver;
let beta: HubConnection;
const betaInbox: Envelope[] = [];

beforeAll(async () => {
  const hub = await inProcessHub();
  beta = await connectHub({ port: hub.port, identity: generateIdentity("agent-beta") });
  beta.onMessage((env) => betaInbox.push(env));
  bridge = await startKeepBridge({ connect: hubConnector({ port: hub.port }), port: 0, heartbeatMs: 300 });
  const gen = tmpDir("keep-pb2-");
  execFileSync("protoc", [`--proto_path=${HERE}`, `--python_out=${gen}`, join(HERE, "keep.proto")]);
  py = startPythonDriver(join(HERE, "keep_client.py"), [gen, "127.0.0.1", String(bridge.port)]);
});

afterAll(async () => {
  await py?.stop();
  await beta?.close();
  await bridge?.close();
  await cleanup();
});

type Reply = { ok: boolean; error?: string; reply?: { typ: number; id: string; src: string; body: string } | null };
type Listened = { ok: boolean; packets: { typ: number; id: string; src: string; dst: string; body: string; pk: string; verified: boolean; scar: string; fee: number; ttl: number }[] };

describe("keep packet codec", () => {
  it("reproduces keep's signing vector (seed 00..1f)", () => {
    const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
    const id = identityFromSeed("vector", seed);
    const p = signKeepPacket(keepPacket({ typ: 0, id: "00000000-0000-4000-8000-000000000001", src: "bot:alice", dst: "server", body: "hello", ttl: 60 }), id);
    expect(toHex(p.pk)).toBe("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8");
    const signed = keepSignedBytes(p);
    // The page says 83 bytes; the frame length it gives (0xa6 = 64+2 + 32+2 + 66) and the signature fix 66.
    expect(signed.length).toBe(66);
    expect(toHex(signed).slice(0, 4)).toBe("2224");
    expect(toHex(p.sig).slice(0, 16)).toBe("00f0a8c604ae2887");
    expect(toHex(p.sig).slice(-6)).toBe("e6020f");
    expect(keepFrame(encodeKeepPacket(p)).readUInt32BE(0)).toBe(0xa6);
    expect(openKeepPacket(encodeKeepPacket(p)).body).toBe("hello");
  });

  it("tolerates unknown fields (not signed) and refuses wrong wire types and bad UTF-8", () => {
    const id = generateIdentity("x");
    const p = signKeepPacket(keepPacket({ id: "1", src: "a", dst: "server", body: "b", ttl: 60 }), id);
    const withUnknown = new Uint8Array([...encodeKeepPacket(p), 0x5a, 0x02, 0x01, 0x02]); // field 11, bytes
    expect(openKeepPacket(withUnknown).body).toBe("b");
    expect(() => decodeKeepPacket(new Uint8Array([0x18, 0x80]))).toThrow(/truncated/);
    expect(() => decodeKeepPacket(new Uint8Array([0x3a, 0x01, 0xff]))).toThrow(expect.objectContaining({ code: 705 }));
    expect(() => decodeKeepPacket(new Uint8Array([0x1a, 0x00]))).toThrow(/wire type/);
  });

  it("splits frames and refuses zero or oversize lengths", () => {
    const r = new KeepFrameReader();
    expect(r.push(Buffer.from([0, 0, 0, 2, 1]))).toEqual([]);
    expect(r.push(Buffer.from([2, 0, 0, 0, 1, 9])).map((b) => [...b])).toEqual([[1, 2], [9]]);
    expect(() => new KeepFrameReader().push(Buffer.from([0, 0, 0, 0]))).toThrow(expect.objectContaining({ code: 703 }));
    expect(() => new KeepFrameReader().push(Buffer.from([0, 1, 0, 1]))).toThrow(expect.objectContaining({ code: 703 }));
  });
});

describe("keep clients at the bridge", () => {
  it("answers server and discovery requests as keep's server does", async () => {
    await py.call({ op: "new", as: "e" });
    const done = await py.call<Reply>({ op: "send", as: "e", src: "bot:eph", dst: "server", body: "hi", id: "11111111-1111-4111-8111-111111111111" });
    expect(done.reply).toMatchObject({ typ: 1, src: "server", body: "done", id: "11111111-1111-4111-8111-111111111111" });
    const empty = await py.call<Reply>({ op: "send", as: "e", src: "bot:eph", dst: "" });
    expect(empty.reply?.body).toBe("done");
    const info = JSON.parse((await py.call<Reply>({ op: "send", as: "e", src: "bot:eph", dst: "discover:info" })).reply!.body);
    expect(info.version).toBe("0.5.0");
    expect(typeof info.agents_online).toBe("number");
    expect(typeof info.uptime_sec).toBe("number");
    const before = JSON.parse((await py.call<Reply>({ op: "send", as: "e", src: "bot:eph", dst: "discover:stats" })).reply!.body);
    await py.call({ op: "send", as: "e", src: "bot:eph", dst: "server", scar: "abcd" });
    const after = JSON.parse((await py.call<Reply>({ op: "send", as: "e", src: "bot:eph", dst: "discover:stats" })).reply!.body);
    expect(after.total_packets).toBeGreaterThanOrEqual(before.total_packets + 2);
    expect(after.scar_exchanges["bot:eph"]).toBe(1);
    const unknown = await py.call<Reply>({ op: "send", as: "e", src: "bot:eph", dst: "discover:weather" });
    expect(unknown.reply?.body).toBe("error:unknown_discovery");
  });

  it("routes between persistent keep clients exactly as received (60,000-byte UTF-8 body, original signature)", async () => {
    await py.call({ op: "new", as: "alice" });
    const bob = await py.call<{ pk: string }>({ op: "new", as: "bob" });
    await py.call({ op: "connect", as: "alice" });
    await py.call({ op: "connect", as: "bob" });
    expect((await py.call<Reply>({ op: "send", as: "alice", persistent: true, src: "bot:alice", dst: "server" })).reply?.body).toBe("done");
    expect((await py.call<Reply>({ op: "send", as: "bob", persistent: true, src: "bot:bob", dst: "server" })).reply?.body).toBe("done");
    const agents = JSON.parse((await py.call<Reply>({ op: "send", as: "e", src: "bot:eph", dst: "discover:agents" })).reply!.body).agents;
    expect(agents).toEqual(expect.arrayContaining(["bot:alice", "bot:bob", "agent-beta"]));
    const body = "ü".repeat(30_000);
    await py.call({ op: "send", as: "bob", persistent: true, src: "bot:bob", dst: "bot:alice", body, id: "b0b00000-0000-4000-8000-000000000001", fee: 7, scar: "0102" });
    const got = await py.call<Listened>({ op: "listen", as: "alice", count: 1, timeout: 5 });
    expect(got.packets).toHaveLength(1);
    expect(got.packets[0]).toMatchObject({ typ: 0, src: "bot:bob", dst: "bot:alice", id: "b0b00000-0000-4000-8000-000000000001", fee: 7, ttl: 60, scar: "0102", pk: bob.pk, verified: true });
    expect(got.packets[0]!.body).toBe(body);
  });

  it("drops a replayed frame: delivered once", async () => {
    await py.call({ op: "send", as: "bob", persistent: true, src: "bot:bob", dst: "bot:alice", body: "once" });
    await py.call({ op: "resend", as: "bob" });
    await py.call({ op: "resend", as: "bob" });
    const got = await py.call<Listened>({ op: "listen", as: "alice", count: 3, timeout: 1.5 });
    expect(got.packets.map((p) => p.body)).toEqual(["once"]);
    expect(bridge.drops.get("replay")).toBeGreaterThanOrEqual(2);
  });

  it("drops unsigned and badly signed packets silently and keeps the connection answering", async () => {
    await py.call({ op: "new", as: "u", timeout: 2 });
    await py.call({ op: "connect", as: "u" });
    const unsigned = await py.call<Reply>({ op: "send", as: "u", persistent: true, unsigned: true, src: "bot:u", dst: "server" }, 20_000);
    expect(unsigned.ok).toBe(false); // the client timed out waiting: nothing came back
    const bad = await py.call<Reply>({ op: "send", as: "u", persistent: true, corrupt: true, src: "bot:u", dst: "server" }, 20_000);
    expect(bad.ok).toBe(false);
    const good = await py.call<Reply>({ op: "send", as: "u", persistent: true, src: "bot:u", dst: "server" });
    expect(good.reply?.body).toBe("done");
    expect(bridge.drops.get("unsigned")).toBeGreaterThanOrEqual(1);
    expect(bridge.drops.get("bad-signature")).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it("binds a name to its first key: another key claiming it is dropped and the owner keeps its mail", async () => {
    await py.call({ op: "new", as: "mallory", timeout: 2 });
    await py.call({ op: "connect", as: "mallory" });
    const claim = await py.call<Reply>({ op: "send", as: "mallory", persistent: true, src: "bot:alice", dst: "server" }, 20_000);
    expect(claim.ok).toBe(false); // no answer: dropped
    expect(bridge.drops.get("name-taken")).toBeGreaterThanOrEqual(1);
    await py.call({ op: "send", as: "bob", persistent: true, src: "bot:bob", dst: "bot:alice", body: "still yours" });
    const got = await py.call<Listened>({ op: "listen", as: "alice", count: 1, timeout: 5 });
    expect(got.packets.map((p) => p.body)).toEqual(["still yours"]);
    expect((await py.call<Listened>({ op: "listen", as: "mallory", count: 1, timeout: 0.5 })).packets).toEqual([]);
  }, 60_000);

  it("answers error:offline for a name nobody holds", async () => {
    await py.call({ op: "send", as: "bob", persistent: true, src: "bot:bob", dst: "bot:nobody", body: "x" });
    const got = await py.call<Listened>({ op: "listen", as: "bob", count: 1, timeout: 5 });
    expect(got.packets[0]).toMatchObject({ typ: 1, src: "server", body: "error:offline" });
  });

  it("closes the connection on a zero-length frame, an oversize length, or a body that is not a Packet", async () => {
    for (const hex of ["00000000", "00010001", "00000002ffff"]) {
      await py.call({ op: "new", as: "raw" });
      await py.call({ op: "connect", as: "raw" });
      await py.call({ op: "raw", as: "raw", hex });
      expect((await py.call<{ closed: boolean }>({ op: "closed", as: "raw", timeout: 5 })).closed).toBe(true);
    }
  });

  it("sends typ-2 heartbeats to bound connections", async () => {
    const id = generateIdentity("hb");
    const socket = createConnection({ host: "127.0.0.1", port: bridge.port });
    const reader = new KeepFrameReader();
    const typs: number[] = [];
    socket.on("data", (d) => reader.push(d).forEach((b) => typs.push(decodeKeepPacket(b).typ)));
    await new Promise((r) => socket.once("connect", r));
    socket.write(keepFrame(encodeKeepPacket(signKeepPacket(keepPacket({ id: crypto.randomUUID(), src: "bot:hb", dst: "server", ttl: 60 }), id))));
    await until(() => typs.includes(2), 5_000, "a heartbeat");
    expect(typs[0]).toBe(1);
    socket.destroy();
  });
});

describe("keep <-> fleet", () => {
  it("a keep packet reaches a Fleet agent with the original keep signature, verifiable end to end", async () => {
    const alicePk = await py.call<{ pk: string }>({ op: "new", as: "alice2" });
    await py.call({ op: "connect", as: "alice2" });
    await py.call({ op: "send", as: "alice2", persistent: true, src: "bot:alice2", dst: "server" });
    await py.call({ op: "send", as: "alice2", persistent: true, src: "bot:alice2", dst: "agent-beta", body: "hello fleet", id: "a1a1a1a1-0000-4000-8000-000000000001" });
    await until(() => betaInbox.some((e) => e.sender === "keep:bot:alice2"), 10_000, "the keep message at agent-beta");
    const env = betaInbox.find((e) => e.sender === "keep:bot:alice2")!;
    expect(env.id).toBe("a1a1a1a1-0000-4000-8000-000000000001");
    const app = env.body?.kind.case === "application" ? env.body.kind.value : undefined;
    expect(app?.mediaType).toBe(KEEP_PACKET_MEDIA_TYPE);
    const original = openKeepPacket(app!.content.value as Uint8Array);
    expect(original).toMatchObject({ src: "bot:alice2", dst: "agent-beta", body: "hello fleet" });
    expect(toHex(original.pk)).toBe(alicePk.pk);
  });

  it("a Fleet agent's message reaches the keep client as a signed keep Packet", async () => {
    await beta.send({ to: "keep:bot:alice2", text: "hello keep ☃", requiresAck: true });
    const got = await py.call<Listened>({ op: "listen", as: "alice2", count: 1, timeout: 5 });
    expect(got.packets[0]).toMatchObject({ typ: 0, src: "agent-beta", dst: "bot:alice2", body: "hello keep ☃", verified: true });
    // The keep client can answer the Fleet agent by name.
    await py.call({ op: "send", as: "alice2", persistent: true, src: "bot:alice2", dst: "agent-beta", body: "answer" });
    await until(() => betaInbox.some((e) => e.sender === "keep:bot:alice2" && openKeepPacket((e.body!.kind.value as { content: { value: Uint8Array } }).content.value).body === "answer"), 10_000, "the answer");
  });

  it("refuses a keep client claiming a Fleet agent's name", async () => {
    await py.call({ op: "new", as: "imp", timeout: 2 });
    const r = await py.call<Reply>({ op: "send", as: "imp", src: "agent-beta", dst: "server" }, 20_000);
    expect(r.ok).toBe(false);
    expect(bridge.drops.get("fleet-name")).toBeGreaterThanOrEqual(1);
  }, 30_000);
});
