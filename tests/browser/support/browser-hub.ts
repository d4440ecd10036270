// A real hub (TCP + WebSocket listeners) with a Node agent that records what it receives and
// echoes requests, and a browser agent connected from a page over ws://: the shared setup of
// the in-page end-to-end tests.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import type { Page } from "playwright-core";
import { MessageType, type Envelope } from "../../../generated/proto/fleet/v1/envelope_pb.js";
import { PacketSchema } from "../../../generated/proto/fleet/v1/signed_pb.js";
import { systemClock } from "../../../runtime/clock.js";
import { applicationValue, buildEnvelope } from "../../../runtime/client/draft.js";
import { connectHub } from "../../../runtime/client/hub-client.js";
import type { HubConnection } from "../../../runtime/client/connection.js";
import { encodePacket } from "../../../runtime/codec/index.js";
import { generateIdentity, signEnvelope, type Identity } from "../../../runtime/crypto/index.js";
import { startHub, type RunningHub } from "../../../runtime/hub/start.js";

export interface PageAgent {
  conn: import("../../../runtime/browser/index.js").HubConnection;
  inbox: { id: string; sender: string; value: unknown; verified: boolean; type: number }[];
  drops: { code: number; message: string }[];
}

declare global {
  interface Window {
    /** The page's agent, kept between page.evaluate calls. */
    agent: PageAgent;
  }
}

export interface BrowserHub {
  hub: RunningHub;
  wsUrl: string;
  nodeId: Identity;
  node: HubConnection;
  /** What the Node agent received, with whether it verified the sender's signature. */
  nodeInbox: { env: Envelope; verified: boolean }[];
  close(): Promise<void>;
}

/** A hub on ephemeral loopback ports and a Node agent named `nodeName` connected over TCP. */
export async function startBrowserHub(nodeName = "node-agent"): Promise<BrowserHub> {
  const home = mkdtempSync(join(tmpdir(), "fleet-browser-hub-"));
  let hub: RunningHub | undefined;
  try {
    hub = await startHub({ storeDir: join(home, "hub"), identity: generateIdentity("fleet-hub"), port: 0, wsPort: 0 });
    const nodeId = generateIdentity(nodeName);
    const node = await connectHub({ port: hub.port, identity: nodeId });
    const nodeInbox: BrowserHub["nodeInbox"] = [];
    node.onMessage((env, meta) => {
      nodeInbox.push({ env, verified: meta.verified });
      // Answer requests, so the browser's request() gets its response.
      if (env.type === MessageType.REQUEST) void node.send({ to: env.sender, type: MessageType.RESPONSE, inReplyTo: env.id, json: { echo: applicationValue(env) } });
    });
    const running = hub;
    return {
      hub: running,
      wsUrl: running.wsUrl!,
      nodeId,
      node,
      nodeInbox,
      async close() {
        await node.close();
        await running.close();
        rmSync(home, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await hub?.close();
    rmSync(home, { recursive: true, force: true });
    throw e;
  }
}

/** Connects the page's agent (window.agent) to the hub at url; returns what the page saw. */
export function connectPageAgent(page: Page, url: string, name = "browser-agent"): Promise<{ agent: string; peer: string; keyId: string }> {
  return page.evaluate(
    async ([url, name]) => {
      const f = window.fleet;
      const identity = f.generateIdentity(name);
      const conn = await f.connectHub({ url, port: 0, identity });
      const agent = { conn, inbox: [] as PageAgent["inbox"], drops: [] as PageAgent["drops"] };
      conn.onMessage((env, meta) => agent.inbox.push({ id: env.id, sender: env.sender, value: f.applicationValue(env), verified: meta.verified, type: env.type }));
      conn.onDrop((e) => agent.drops.push({ code: e.code, message: e.message }));
      window.agent = agent;
      return { agent: conn.agent, peer: conn.peer, keyId: identity.keyId };
    },
    [url, name] as const,
  );
}

/**
 * The Node agent sends the page's agent a message whose signature was altered in transit,
 * then an honest marker; once the marker is in, reports whether the forgery reached the
 * page's application and the codes the page's agent dropped input with.
 */
export async function forgedDelivery(h: BrowserHub, page: Page, to = "browser-agent"): Promise<{ delivered: boolean; drops: number[] }> {
  const forged = buildEnvelope({ to, json: { forged: true } }, h.nodeId.agent, systemClock);
  const signed = signEnvelope(forged, h.nodeId);
  signed.signature!.sig[10] ^= 0x01;
  // The hub forwards signed envelopes unchanged (verify: "none"); only the recipient can tell.
  h.node.sendRaw(encodePacket(create(PacketSchema, { kind: { case: "signed", value: signed } })));
  const marker = await h.node.send({ to, json: { after: "forged" }, requiresAck: true });
  await page.waitForFunction((id) => window.agent.inbox.some((m) => m.id === id), marker!.messageId, { timeout: 10_000 });
  return page.evaluate((forgedId) => ({ delivered: window.agent.inbox.some((m) => m.id === forgedId), drops: window.agent.drops.map((d) => d.code) }), forged.id);
}

/** Waits (bounded) until check() returns a value. */
export async function until<T>(check: () => T | undefined, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
