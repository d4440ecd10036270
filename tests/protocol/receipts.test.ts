import { describe, expect, it } from "vitest";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { type Receipt, ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { FakeClock } from "../../runtime/clock.js";
import { generateIdentity, openSignedEnvelope, signEnvelope, StaticKeys } from "../../runtime/crypto/index.js";
import { ErrorCode, FleetError } from "../../runtime/errors.js";
import { Deduper } from "../../runtime/protocol/dedupe.js";
import { controlEnvelope } from "../../runtime/protocol/envelope.js";
import { AckResponder, ReceiptTracker, signReceipt } from "../../runtime/protocol/receipts.js";
import { memoryPair } from "../../runtime/transport/memory.js";
import { codeOf, packSigned, unpackSigned } from "./helpers.js";

const alice = generateIdentity("alice");
const bob = generateIdentity("bob");
const keys = new StaticKeys([alice, bob]);

function request(clock: FakeClock, opts: { version?: string; ttl?: number } = {}) {
  const env = controlEnvelope({ sender: "alice", to: { agent: "bob" }, type: MessageType.COMMAND, body: { case: "application", value: { mediaType: "application/json", content: { case: "json", value: "{}" } } }, clock, requiresAck: true, ttlSeconds: opts.ttl });
  if (opts.version) env.protocolVersion = opts.version;
  return env;
}

describe("acks and receipts over an in-memory link", () => {
  it("retries with the same id after a lost message; the receiver delivers once and signs the receipt", async () => {
    const clock = new FakeClock();
    let dropFirst = true;
    const [a, b, link] = memoryPair({ auto: false, drop: (_body, from) => from === "a" && dropFirst && !(dropFirst = false) });
    const responder = new AckResponder({ clock });
    const delivered: string[] = [];
    b.onFrame((bytes) => {
      const env = openSignedEnvelope(unpackSigned(bytes), { keys, clock }); // no ReplayGuard: the deduper handles retries
      const d = responder.receive(env);
      if (d.deliver) delivered.push(env.id);
      if (d.receipt) b.send(packSigned(signReceipt(d.receipt, env, bob, clock)));
    });
    const tracker = new ReceiptTracker({ clock });
    a.onFrame((bytes) => {
      const env = openSignedEnvelope(unpackSigned(bytes), { keys, clock });
      if (env.body?.kind.case === "receipt") tracker.onReceipt(env.body.kind.value, env.sender);
    });
    const signed = signEnvelope(request(clock), alice);
    const packet = packSigned(signed);
    a.send(packet);
    const attempts: number[] = [];
    const done = tracker.track(openSignedEnvelope(signed, { keys }).id, (n) => {
      attempts.push(n);
      a.send(packet);
    }, "bob");
    link.flush();
    expect(link.stats.dropped).toBe(1);
    clock.advance(1_500);
    link.flush();
    const receipt = await done;
    expect(attempts).toEqual([2]);
    expect(receipt.status).toBe(ReceiptStatus.ACCEPTED);
    expect(delivered.length).toBe(1);
    expect(tracker.inFlight).toBe(0);
  });

  it("answers a duplicate with 801 and never delivers it twice; the sender treats 801 as done", async () => {
    const clock = new FakeClock();
    const responder = new AckResponder({ clock });
    const env = request(clock);
    expect(responder.receive(env)).toMatchObject({ deliver: true, receipt: { status: ReceiptStatus.ACCEPTED } });
    const dup = responder.receive(env);
    expect(dup.deliver).toBe(false);
    expect(dup.receipt?.code).toBe(ErrorCode.DELIVERY_DUPLICATE);
    const tracker = new ReceiptTracker({ clock });
    const p = tracker.track(env.id, () => {});
    tracker.onReceipt(dup.receipt!, "bob");
    await expect(p).resolves.toMatchObject({ code: ErrorCode.DELIVERY_DUPLICATE });
  });

  it("rejects expired (802), unsupported version (806), and admission refusals (603/803/804) without remembering them", () => {
    const clock = new FakeClock();
    let busy = true;
    const responder = new AckResponder({ clock, admit: () => (busy ? { code: ErrorCode.DELIVERY_BUSY, retryAfterMs: 250 } : undefined) });
    const old = request(clock, { ttl: 1 });
    clock.advance(1_000);
    expect(responder.receive(old).receipt?.code).toBe(ErrorCode.DELIVERY_EXPIRED);
    expect(responder.receive(request(clock, { version: "9.0" })).receipt?.code).toBe(ErrorCode.DELIVERY_UNSUPPORTED_VERSION);
    const env = request(clock);
    expect(responder.receive(env).receipt).toMatchObject({ code: ErrorCode.DELIVERY_BUSY, retryAfterMs: 250 });
    busy = false;
    expect(responder.receive(env)).toMatchObject({ deliver: true, receipt: { status: ReceiptStatus.ACCEPTED } });
    const u = new AckResponder({ clock, admit: () => ({ code: ErrorCode.SECURITY_UNAUTHORIZED }) });
    expect(u.receive(request(clock)).receipt?.code).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(responder.processed(env).status).toBe(ReceiptStatus.PROCESSED);
  });

  it("tracker: retries busy after retry_after, fails with 805 after the last attempt, refuses receipts from others (603)", async () => {
    const clock = new FakeClock();
    const tracker = new ReceiptTracker({ clock, attempts: 3 });
    const sends: number[] = [];
    const p = tracker.track("m1", (n) => sends.push(n), "bob");
    const busy: Receipt = { $typeName: "fleet.v1.Receipt", messageId: "m1", status: ReceiptStatus.REJECTED, code: ErrorCode.DELIVERY_BUSY, detail: "", retryAfterMs: 100, exitCode: 0 };
    expect(codeOf(() => tracker.onReceipt(busy, "mallory"))).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(tracker.onReceipt(busy, "bob")).toBe(true);
    clock.advance(100);
    expect(sends).toEqual([2]);
    clock.advance(1_500);
    expect(sends).toEqual([2, 3]);
    clock.advance(1_500);
    await expect(p).rejects.toMatchObject({ code: ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE });
    expect(tracker.onReceipt({ ...busy, status: ReceiptStatus.ACCEPTED }, "bob")).toBe(false); // late: ignored
    expect(clock.pendingTimers).toBe(0);
  });

  it("dedupe is bounded: expired ids are pruned, a window full of live ids refuses with 804", () => {
    const clock = new FakeClock();
    const d = new Deduper({ clock, windowMs: 1_000, maxEntries: 2 });
    d.remember("a");
    d.remember("b");
    expect(codeOf(() => d.remember("c"))).toBe(ErrorCode.DELIVERY_BUSY);
    clock.advance(1_000);
    d.remember("c");
    expect(d.size).toBe(1);
    expect(d.lookup("a")).toBeUndefined();
    expect(d.lookup("c")).toBeDefined();
  });

  it("memory link: duplicates, reorders, and refuses oversize frames", async () => {
    const got: number[] = [];
    const [a, b, link] = memoryPair({ duplicate: (body) => body[0] === 2, reorder: (q) => q.reverse(), auto: false, maxFrameBytes: 8 });
    b.onFrame((x) => got.push(x[0]));
    a.send(Uint8Array.of(1));
    a.send(Uint8Array.of(2));
    a.send(Uint8Array.of(3));
    link.flush();
    expect(got.sort()).toEqual([1, 2, 2, 3]);
    expect(codeOf(() => a.send(new Uint8Array(9)))).toBe(ErrorCode.WIRE_FRAME_TOO_LARGE);
    let closed = 0;
    b.onClose(() => closed++);
    const [c, d] = memoryPair();
    const seen: number[] = [];
    d.onFrame((x) => seen.push(x[0]));
    c.send(Uint8Array.of(7));
    await Promise.resolve();
    expect(seen).toEqual([7]);
    a.close(Uint8Array.of(9));
    expect(got.at(-1)).toBe(9);
    expect(closed).toBe(1);
    expect(FleetError).toBeDefined();
  });
});
