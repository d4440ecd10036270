// HubConnection with asynchronous crypto (WebCrypto, as in browsers: node:crypto hidden) keeps
// order whatever the crypto latencies: messages reach onMessage in arrival order and sends go
// out, and resolve, in call order, even when later signatures finish verifying or signing
// first. A real hub (in process, SQLite store) routes between two agents over memory links;
// every signature is real, only the moment WebCrypto hands back its result is chosen here.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Receipt } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import type { HubConnection } from "../../runtime/client/connection.js";
import { applicationValue, buildEnvelope } from "../../runtime/client/draft.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { FakeClock } from "../../runtime/clock.js";
import { encodePacket } from "../../runtime/codec/index.js";
import { generateIdentity, signEnvelope, StaticKeys, type Identity } from "../../runtime/crypto/index.js";
import { setNodeCryptoDisabled } from "../../runtime/crypto/node-crypto.js";
import { ErrorCode } from "../../runtime/errors.js";
import { Hub } from "../../runtime/hub/hub.js";
import { memoryPair } from "../../runtime/transport/memory.js";
import { HeldSubtle } from "./support/held-subtle.js";

let dir: string;
let hub: Hub;
let clock: FakeClock;
let subtle: HeldSubtle;
const open: HubConnection[] = [];

beforeEach(() => {
  setNodeCryptoDisabled(true); // every async signature and verification goes through WebCrypto
  subtle = new HeldSubtle();
  clock = new FakeClock();
  dir = mkdtempSync(join(tmpdir(), "fleet-order-"));
  hub = new Hub({ storeDir: join(dir, "hub"), identity: generateIdentity("fleet-hub"), clock });
});

afterEach(async () => {
  subtle.releaseAll();
  for (const c of open.splice(0)) await c.close();
  await hub.close();
  rmSync(dir, { recursive: true, force: true });
  setNodeCryptoDisabled(false);
  vi.restoreAllMocks();
});

/** An agent connected to the hub over a memory link, knowing its peers' keys up front. */
async function attach(identity: Identity, peers: Identity[]): Promise<HubConnection> {
  const [mine, hubSide] = memoryPair();
  hub.accept(hubSide);
  const c = await connectHub({ port: 0, conn: mine, identity, clock, keys: new StaticKeys(peers) });
  open.push(c);
  return c;
}

/** What `c`'s application sees, in order: message numbers (with verification) and drop codes. */
function record(c: HubConnection): string[] {
  const seen: string[] = [];
  c.onMessage((env, meta) => seen.push(`${(applicationValue(env) as { n: number }).n}:${meta.verified ? "signed" : "session"}`));
  c.onDrop((e) => seen.push(`drop:${e.code}`));
  return seen;
}

describe("HubConnection ordering with asynchronous crypto", () => {
  it("hands messages to onMessage in arrival order though later signatures verify first; a forgery is dropped in its place", async () => {
    const aliceId = generateIdentity("alice");
    const bobId = generateIdentity("bob");
    const alice = await attach(aliceId, [bobId]);
    const bob = await attach(bobId, [aliceId]);
    const seen = record(alice);
    subtle.hold("verify");

    // 0 signed, 1 session, 2 signed, 3 forged signature, 4 session, 5 signed.
    for (let n = 0; n < 6; n++) {
      if (n % 3 === 1) {
        void bob.send({ to: "alice", json: { n }, sign: false });
        continue;
      }
      const signed = signEnvelope(buildEnvelope({ to: "alice", json: { n } }, "bob", clock), bobId);
      if (n === 3) signed.signature!.sig[7] ^= 0x40;
      bob.sendRaw(encodePacket(create(PacketSchema, { kind: { case: "signed", value: signed } })));
    }
    // Every signed arrival starts verifying at once (the sender's key is known).
    await vi.waitFor(() => expect(subtle.count("verify")).toBe(4), { timeout: 5_000 });

    // Messages 5, 3 (forged) and 2 finish verifying, last first: nothing may pass message 0.
    await subtle.release("verify", [3, 2, 1]);
    expect(seen).toEqual([]);

    await subtle.release("verify", [0]);
    await vi.waitFor(() => expect(seen).toHaveLength(6), { timeout: 5_000 });
    expect(seen).toEqual(["0:signed", "1:session", "2:signed", `drop:${ErrorCode.SECURITY_SIGNATURE_INVALID}`, "4:session", "5:signed"]);
  });

  it("writes sends and resolves their receipts in call order though later signatures are ready first", async () => {
    const aliceId = generateIdentity("alice");
    const bobId = generateIdentity("bob");
    const alice = await attach(aliceId, [bobId]);
    const bob = await attach(bobId, [aliceId]);
    const seen = record(bob);
    subtle.hold("sign");

    // Even numbers signed end to end, odd ones session-authenticated only; all acknowledged.
    const resolved: { n: number; receipt: Receipt | undefined }[] = [];
    const sends = Array.from({ length: 6 }, (_, n) =>
      alice.send({ to: "bob", json: { n }, sign: n % 2 === 0, requiresAck: true }).then((receipt) => void resolved.push({ n, receipt })),
    );
    await vi.waitFor(() => expect(subtle.count("sign")).toBe(3), { timeout: 5_000 });

    // Messages 4 and 2 are signed before message 0: nothing is written yet, the session ones included.
    await subtle.release("sign", [2, 1]);
    expect(seen).toEqual([]);
    expect(resolved).toEqual([]);
    expect(hub.stats().routed).toBe(0);

    await subtle.release("sign", [0]);
    await Promise.all(sends);
    expect(resolved.map((r) => r.n)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(resolved.map((r) => r.receipt?.status)).toEqual(Array(6).fill(ReceiptStatus.ACCEPTED));
    await vi.waitFor(() => expect(seen).toHaveLength(6), { timeout: 5_000 });
    expect(seen).toEqual(["0:signed", "1:session", "2:signed", "3:session", "4:signed", "5:session"]);
  });
});
