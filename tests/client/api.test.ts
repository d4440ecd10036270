// The API people expect, on a real hub: messages() as an async iterable beside onMessage
// (bounded: a reader that falls behind gets 804, nothing silently lost), AbortSignal on
// send, request and connect (903 CANCELLED), `await using` (Symbol.asyncDispose), and
// drain() that flushes every send under way before closing.
import { afterEach, describe, expect, it } from "vitest";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { ErrorCode, isFleetError } from "../../runtime/errors.js";
import { join } from "node:path";
import { createServer } from "node:net";
import { cleanup, inProcessHub, tmpDir, until } from "../hub/support.js";

afterEach(cleanup);

const cancelled = (e: unknown) => isFleetError(e, ErrorCode.CANCELLED);

describe("FleetConnection API", () => {
  it("messages(): for await over verified messages beside onMessage; the iteration ends when the connection closes", async () => {
    const hub = await inProcessHub();
    const alpha = await connectHub({ port: hub.port, identity: generateIdentity("alpha") });
    const beta = await connectHub({ port: hub.port, identity: generateIdentity("beta") });
    const viaHandler: string[] = [];
    beta.onMessage((env) => viaHandler.push(env.id));
    const viaIterator: { id: string; verified: boolean }[] = [];
    const reading = (async () => {
      for await (const m of beta.messages()) viaIterator.push({ id: m.env.id, verified: m.meta.verified });
    })();
    for (let i = 0; i < 5; i++) await alpha.send({ id: `m${i}`, to: "beta", json: i, requiresAck: true });
    await until(() => viaIterator.length === 5, 5_000, "five messages");
    await beta.close();
    await reading; // ended, not hung
    expect(viaIterator).toEqual(["m0", "m1", "m2", "m3", "m4"].map((id) => ({ id, verified: true })));
    expect(viaHandler).toEqual(viaIterator.map((m) => m.id));
  });

  it("messages({ limit }): a reader that falls behind gets what was held, then 804; break and signal end an iteration", async () => {
    const hub = await inProcessHub();
    const alpha = await connectHub({ port: hub.port, identity: generateIdentity("alpha") });
    const beta = await connectHub({ port: hub.port, identity: generateIdentity("beta") });
    const drops: number[] = [];
    beta.onDrop((e) => drops.push(e.code));
    const slow = beta.messages({ limit: 3 });
    const controller = new AbortController();
    const stopped = beta.messages({ signal: controller.signal });
    for (let i = 0; i < 5; i++) await alpha.send({ id: `m${i}`, to: "beta", json: i, requiresAck: true });
    await until(() => drops.length === 1, 5_000, "overflow reported");
    const taken: string[] = [];
    let error: unknown;
    try {
      for await (const m of slow) taken.push(m.env.id);
    } catch (e) {
      error = e;
    }
    expect(taken).toEqual(["m0", "m1", "m2"]);
    expect(isFleetError(error, ErrorCode.DELIVERY_BUSY)).toBe(true);
    expect(drops).toEqual([ErrorCode.DELIVERY_BUSY]);
    expect((await stopped.next()).value.env.id).toBe("m0");
    controller.abort();
    expect(await stopped.next()).toEqual({ value: undefined, done: true });
    const broken: string[] = [];
    let seen = 0;
    beta.onMessage((env) => void (env.id === "m5" && seen++));
    await alpha.send({ id: "m5", to: "beta", json: 5, requiresAck: true });
    await until(() => seen === 1, 5_000, "m5 arrived");
    const fresh = beta.messages();
    await alpha.send({ id: "m6", to: "beta", json: 6, requiresAck: true });
    for await (const m of fresh) {
      broken.push(m.env.id);
      break;
    }
    expect(broken).toEqual(["m6"]);
  });

  it("AbortSignal: a send held while disconnected is never written; an aborted request stops waiting; both reject 903", async () => {
    const hubIdentity = generateIdentity("fleet-hub");
    const storeDir = join(tmpDir(), "hub");
    let hub = await inProcessHub({ identity: hubIdentity, storeDir });
    const port = hub.port;
    const alpha = await connectHub({ port, identity: generateIdentity("alpha"), reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
    const beta = await connectHub({ port, identity: generateIdentity("beta"), reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
    const got: string[] = [];
    beta.onMessage((env) => got.push(env.id));
    // Nobody answers "nobody-home": the request waits until aborted.
    const controller = new AbortController();
    const waiting = alpha.request({ to: "beta", text: "answer me" }, { timeoutMs: 60_000, signal: controller.signal });
    controller.abort(new Error("user gave up"));
    await expect(waiting).rejects.toSatisfy((e: unknown) => cancelled(e) && /user gave up/.test((e as Error).message));
    await expect(alpha.send({ to: "beta", text: "x" }, { signal: AbortSignal.abort() })).rejects.toSatisfy(cancelled);

    await hub.close();
    await until(() => alpha.status !== "connected", 5_000, "disconnected");
    const heldController = new AbortController();
    const held = alpha.send({ id: "dropped", to: "beta", text: "never", requiresAck: true }, { signal: heldController.signal });
    const kept = alpha.send({ id: "kept", to: "beta", text: "yes", requiresAck: true });
    heldController.abort();
    await expect(held).rejects.toSatisfy(cancelled);
    hub = await inProcessHub({ identity: hubIdentity, port, storeDir });
    await kept;
    await until(() => got.includes("kept"), 5_000, "kept delivered");
    await new Promise((r) => setTimeout(r, 100));
    expect(got).not.toContain("dropped");
    await alpha.close();
    await beta.close();
  });

  it("AbortSignal on connect: a hub that never answers the handshake; the attempt rejects 903 and its socket closes", async () => {
    const sockets: { closed: boolean }[] = [];
    const silent = createServer((s) => {
      const rec = { closed: false };
      sockets.push(rec);
      s.on("close", () => (rec.closed = true));
      s.on("error", () => {});
      s.resume(); // reads (and ignores) the Hello, so the client's end is seen
    });
    await new Promise<void>((r) => silent.listen({ host: "127.0.0.1", port: 0 }, () => r()));
    try {
      const port = (silent.address() as { port: number }).port;
      const controller = new AbortController();
      const statuses: string[] = [];
      const attempt = connectHub({ port, identity: generateIdentity("alpha"), signal: controller.signal, onStatus: (e) => statuses.push(e.status) });
      await until(() => sockets.length === 1, 5_000, "socket open");
      controller.abort();
      await expect(attempt).rejects.toSatisfy(cancelled);
      await until(() => sockets[0]!.closed, 5_000, "socket closed");
      expect(statuses).toEqual(["connecting", "closed"]);
    } finally {
      silent.close();
    }
  });

  it("await using closes the connection at the end of the block", async () => {
    const hub = await inProcessHub();
    let status = "";
    {
      await using alpha = await connectHub({ port: hub.port, identity: generateIdentity("alpha") });
      await until(() => hub.hub.isOnline("alpha"), 5_000, "online");
      alpha.onStatus((e) => (status = e.status));
    }
    expect(status).toBe("closed");
    await until(() => !hub.hub.isOnline("alpha"), 5_000, "offline");
  });

  it("drain(): every send under way is written and receipted before the close; new sends are refused meanwhile", async () => {
    const hub = await inProcessHub();
    const alpha = await connectHub({ port: hub.port, identity: generateIdentity("alpha") });
    const beta = await connectHub({ port: hub.port, identity: generateIdentity("beta") });
    const got: Envelope[] = [];
    beta.onMessage((env) => got.push(env));
    const receipts = Array.from({ length: 200 }, (_, i) => alpha.send({ id: `d${i}`, to: "beta", json: i, requiresAck: true }));
    const draining = alpha.drain();
    await expect(alpha.send({ to: "beta", text: "late" })).rejects.toSatisfy((e: unknown) => isFleetError(e, ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE));
    await draining;
    expect(alpha.status).toBe("closed");
    const settled = await Promise.allSettled(receipts);
    expect(settled.every((s) => s.status === "fulfilled")).toBe(true);
    await until(() => got.length === 200, 5_000, "all delivered");
  });
});

