// A browser agent in headless Chromium and a Node agent, through one real hub: the browser
// connects over ws:// (the hub's WebSocket listener), the Node agent over TCP. The page
// runs the bundle unchanged: handshake, signed sends, end-to-end verification of what it
// receives, and refusal of a forged signature, all inside Chromium.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { systemClock } from "../../runtime/clock.js";
import { applicationValue, buildEnvelope } from "../../runtime/client/draft.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import type { HubConnection } from "../../runtime/client/connection.js";
import { encodePacket } from "../../runtime/codec/index.js";
import { generateIdentity, signEnvelope, type Identity } from "../../runtime/crypto/index.js";
import { ErrorCode } from "../../runtime/errors.js";
import { startHub, type RunningHub } from "../../runtime/hub/start.js";
import { describeBrowser } from "./support/describe-browser.js";
import { openBundlePage, type BundlePage } from "./support/bundle-page.js";

interface PageAgent {
  conn: import("../../runtime/browser/index.js").HubConnection;
  inbox: { id: string; sender: string; value: unknown; verified: boolean; type: number }[];
  drops: { code: number; message: string }[];
}
declare global {
  interface Window {
    /** The page's agent, kept between page.evaluate calls. */
    agent: PageAgent;
  }
}

/** Waits (bounded) until check() returns a value. */
async function until<T>(check: () => T | undefined, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describeBrowser("browser agent <-> Node agent through the hub", () => {
  let hub: RunningHub;
  let wsUrl: string;
  let home: string;
  let bp: BundlePage;
  let nodeId: Identity;
  let node: HubConnection;
  const nodeInbox: { env: Envelope; verified: boolean }[] = [];

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "fleet-browser-hub-"));
    hub = await startHub({ storeDir: join(home, "hub"), identity: generateIdentity("fleet-hub"), port: 0, wsPort: 0 });
    wsUrl = hub.wsUrl!;
    nodeId = generateIdentity("node-agent");
    node = await connectHub({ port: hub.port, identity: nodeId });
    node.onMessage((env, meta) => {
      nodeInbox.push({ env, verified: meta.verified });
      // Answer requests, so the browser's request() gets its response.
      if (env.type === MessageType.REQUEST) void node.send({ to: env.sender, type: MessageType.RESPONSE, inReplyTo: env.id, json: { echo: applicationValue(env) } });
    });
    bp = await openBundlePage();
  });

  afterAll(async () => {
    await bp?.close();
    await node?.close();
    await hub?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("completes the handshake from the page over ws://", async () => {
    const got = await bp.page.evaluate(async (url) => {
      const f = window.fleet;
      const identity = f.generateIdentity("browser-agent");
      const conn = await f.connectHub({ url, port: 0, identity });
      const agent = { conn, inbox: [] as PageAgent["inbox"], drops: [] as PageAgent["drops"] };
      conn.onMessage((env, meta) => agent.inbox.push({ id: env.id, sender: env.sender, value: f.applicationValue(env), verified: meta.verified, type: env.type }));
      conn.onDrop((e) => agent.drops.push({ code: e.code, message: e.message }));
      window.agent = agent;
      return { agent: conn.agent, peer: conn.peer, keyId: identity.keyId };
    }, wsUrl);
    expect(got.agent).toBe("browser-agent");
    expect(got.peer).toBe("fleet-hub");
    expect(got.keyId).toMatch(/^ed25519:[a-z2-7]{32}$/);
  });

  it("sends a signed message from the page that the Node agent verifies end to end", async () => {
    const receipt = await bp.page.evaluate(async () => {
      const r = await window.agent.conn.send({ to: "node-agent", json: { hello: "from chromium" }, requiresAck: true });
      return r ? { status: r.status, messageId: r.messageId } : undefined;
    });
    expect(receipt?.status).toBe(ReceiptStatus.ACCEPTED);
    const got = await until(() => nodeInbox.find((m) => m.env.sender === "browser-agent"), "the browser's message at the Node agent");
    expect(got.verified).toBe(true);
    expect(got.env.id).toBe(receipt?.messageId);
    expect(applicationValue(got.env)).toEqual({ hello: "from chromium" });
  });

  it("receives a signed message from the Node agent and verifies it in the page", async () => {
    const receipt = await node.send({ to: "browser-agent", json: { hello: "from node", n: 42 }, requiresAck: true });
    expect(receipt?.status).toBe(ReceiptStatus.ACCEPTED);
    await bp.page.waitForFunction((id) => window.agent.inbox.some((m) => m.id === id), receipt!.messageId, { timeout: 10_000 });
    const got = await bp.page.evaluate((id) => window.agent.inbox.find((m) => m.id === id), receipt!.messageId);
    expect(got).toMatchObject({ sender: "node-agent", verified: true, value: { hello: "from node", n: 42 } });
  });

  it("makes a request from the page and gets the Node agent's response", async () => {
    const answer = await bp.page.evaluate(async () => {
      const f = window.fleet;
      const env = await window.agent.conn.request({ to: "node-agent", json: { question: 6 * 7 } }, 10_000);
      return { sender: env.sender, value: f.applicationValue(env) };
    });
    expect(answer).toEqual({ sender: "node-agent", value: { echo: { question: 42 } } });
  });

  it("drops a message whose signature was altered in transit (601) and never hands it to the page's application", async () => {
    const forged = buildEnvelope({ to: "browser-agent", json: { forged: true } }, "node-agent", systemClock);
    const signed = signEnvelope(forged, nodeId);
    signed.signature!.sig[10] ^= 0x01;
    // The hub forwards signed envelopes unchanged (verify: "none"); only the recipient can tell.
    node.sendRaw(encodePacket(create(PacketSchema, { kind: { case: "signed", value: signed } })));
    const marker = await node.send({ to: "browser-agent", json: { after: "forged" }, requiresAck: true });
    await bp.page.waitForFunction((id) => window.agent.inbox.some((m) => m.id === id), marker!.messageId, { timeout: 10_000 });
    const state = await bp.page.evaluate((forgedId) => ({ delivered: window.agent.inbox.some((m) => m.id === forgedId), drops: window.agent.drops }), forged.id);
    expect(state.delivered).toBe(false);
    expect(state.drops.map((d) => d.code)).toContain(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(bp.page.errors).toEqual([]);
  });
});
