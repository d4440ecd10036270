// The async handshake drivers (startAsync / receiveAsync): they interoperate with the sync
// machines the hub and NATS use, derive the same session, keep every refusal code, and with
// node:crypto hidden (as in a browser) really take Ed25519 and X25519 from WebCrypto.
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CapabilitySetSchema } from "../../generated/proto/fleet/v1/capabilities_pb.js";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { FakeClock } from "../../runtime/clock.js";
import { buildEnvelope } from "../../runtime/client/draft.js";
import { generateIdentity, PinnedKeys } from "../../runtime/crypto/index.js";
import { setNodeCryptoDisabled } from "../../runtime/crypto/node-crypto.js";
import { ErrorCode } from "../../runtime/errors.js";
import { parseCapability } from "../../runtime/protocol/capabilities.js";
import { type EstablishedSession, HandshakeInitiator, HandshakeResponder, type HandshakeStep } from "../../runtime/protocol/handshake.js";

afterEach(() => {
  setNodeCryptoDisabled(false);
  vi.restoreAllMocks();
});

const agent = generateIdentity("agent-async");
const hub = generateIdentity("fleet-hub");

function machines(required: string[] = [], identity = agent) {
  const clock = new FakeClock();
  const initiator = new HandshakeInitiator({ identity, keys: new PinnedKeys(), clock });
  const responder = new HandshakeResponder({ identity: hub, hub: true, keys: new PinnedKeys(), clock, capabilities: create(CapabilitySetSchema, { required: required.map(parseCapability) }) });
  return { clock, initiator, responder };
}

type Mode = "sync" | "async";
const step = (m: HandshakeInitiator | HandshakeResponder, mode: Mode, msg: Parameters<HandshakeInitiator["receive"]>[0]): Promise<HandshakeStep> =>
  mode === "sync" ? Promise.resolve(m.receive(msg)) : m.receiveAsync(msg);

/** Runs Hello -> Welcome -> Confirm with each side in its mode; returns both established sessions. */
async function run(i: Mode, r: Mode) {
  const { initiator, responder } = machines();
  const hello = i === "sync" ? initiator.start() : await initiator.startAsync();
  const welcome = await step(responder, r, hello);
  expect(welcome.error).toBeUndefined();
  const confirm = await step(initiator, i, welcome.send!);
  expect(confirm.error).toBeUndefined();
  const done = await step(responder, r, confirm.send!);
  expect(done.error).toBeUndefined();
  return { mine: confirm.established!, theirs: done.established!, initiator, responder };
}

/** Both sessions authenticate each other's messages, both ways. */
function expectSameSession(a: EstablishedSession, b: EstablishedSession): void {
  const clock = new FakeClock();
  const out = buildEnvelope({ to: "fleet-hub", type: MessageType.EVENT, json: { n: 1 } }, "agent-async", clock);
  expect(b.session.open(a.session.seal(out)).id).toBe(out.id);
  const back = buildEnvelope({ to: "agent-async", type: MessageType.EVENT, json: { n: 2 } }, "fleet-hub", clock);
  expect(a.session.open(b.session.seal(back)).id).toBe(back.id);
}

describe("async handshake", () => {
  for (const [i, r] of [["async", "async"], ["async", "sync"], ["sync", "async"]] as const) {
    it(`${i} initiator <-> ${r} responder: established on both sides with one working session`, async () => {
      const { mine, theirs, initiator, responder } = await run(i, r);
      expect(initiator.state).toBe("established");
      expect(responder.state).toBe("established");
      expect(mine.sessionId).toBe(theirs.sessionId);
      expect(mine.peer).toBe("fleet-hub");
      expect(theirs.peer).toBe("agent-async");
      expectSameSession(mine, theirs);
    });
  }

  it("keeps the refusal codes: 403 HelloReject, 104 for a tampered Welcome, 105 out of order", async () => {
    const refused = machines(["relay"]);
    const reject = await refused.responder.receiveAsync(await refused.initiator.startAsync());
    expect(reject.error?.code).toBe(ErrorCode.CAPABILITY_REQUIRED);
    expect((await refused.initiator.receiveAsync(reject.send!)).error?.code).toBe(ErrorCode.CAPABILITY_REQUIRED);
    expect(refused.initiator.state).toBe("failed");

    const { initiator, responder } = machines();
    const welcome = (await responder.receiveAsync(await initiator.startAsync())).send!;
    const tampered = { ...welcome, payload: welcome.payload.slice() };
    tampered.payload[tampered.payload.length - 3] ^= 1;
    expect((await initiator.receiveAsync(tampered)).error?.code).toBe(ErrorCode.HANDSHAKE_AUTH_FAILED);
    expect(initiator.state).toBe("awaiting-welcome"); // bad input changes nothing
    const ok = await initiator.receiveAsync(welcome);
    expect(ok.established).toBeDefined();
    expect((await initiator.receiveAsync(welcome)).error?.code).toBe(ErrorCode.HANDSHAKE_REQUIRED);
  });

  it("handles messages given to receiveAsync back to back strictly in order", async () => {
    const { initiator, responder } = machines();
    const hello = await initiator.startAsync();
    // The Hello and a duplicate of it arrive before the first is processed: one Welcome, then 105.
    const [first, second] = await Promise.all([responder.receiveAsync(hello), responder.receiveAsync(hello)]);
    expect(first.send?.payload.length).toBeGreaterThan(0);
    expect(second.error?.code).toBe(ErrorCode.HANDSHAKE_REQUIRED);
  });

  it("retries asynchronously after a timeout when started with startAsync", async () => {
    const { clock, initiator, responder } = machines();
    const retries: HandshakeStep[] = [];
    initiator.onTimeout((s) => retries.push(s));
    await initiator.startAsync();
    clock.advance(10_000);
    clock.advance(2_000);
    await vi.waitFor(() => expect(retries).toHaveLength(1));
    expect(initiator.attemptCount).toBe(2);
    const welcome = await responder.receiveAsync(retries[0].send!);
    expect((await initiator.receiveAsync(welcome.send!)).established).toBeDefined();
  });

  it("without node:crypto (as in a browser) uses WebCrypto Ed25519 and X25519, and still meets a sync node:crypto responder", async () => {
    const subtle = globalThis.crypto.subtle;
    const calls: string[] = [];
    for (const name of ["sign", "verify", "generateKey", "deriveBits"] as const) {
      const original = subtle[name].bind(subtle) as (...a: unknown[]) => unknown;
      vi.spyOn(subtle, name).mockImplementation(((...args: unknown[]) => {
        const alg = args[0] as string | { name: string };
        calls.push(`${name}:${typeof alg === "string" ? alg : alg.name}`);
        return original(...args);
      }) as never);
    }
    // A fresh identity: an identity picks its async signer on first use.
    const { initiator, responder } = machines([], generateIdentity("agent-async"));
    setNodeCryptoDisabled(true);
    const hello = await initiator.startAsync();
    setNodeCryptoDisabled(false);
    const welcome = responder.receive(hello);
    setNodeCryptoDisabled(true);
    const confirm = await initiator.receiveAsync(welcome.send!);
    setNodeCryptoDisabled(false);
    const done = responder.receive(confirm.send!);
    expect(done.established).toBeDefined();
    expectSameSession(confirm.established!, done.established!);
    expect(calls).toEqual(expect.arrayContaining(["generateKey:X25519", "deriveBits:X25519", "sign:Ed25519", "verify:Ed25519"]));
    // A key whose private half lives in WebCrypto cannot be used by the sync driver: a typed error, not a crash.
    const other = machines();
    setNodeCryptoDisabled(true);
    const hello2 = await other.initiator.startAsync();
    setNodeCryptoDisabled(false);
    expect(other.initiator.receive(other.responder.receive(hello2).send!).error?.code).toBe(ErrorCode.INTERNAL_ERROR);
  });
});
