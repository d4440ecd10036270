// A browser agent in headless Chromium and a Node agent, through one real hub: the browser
// connects over ws:// (the hub's WebSocket listener), the Node agent over TCP. The page
// runs the bundle unchanged: handshake, signed sends, end-to-end verification of what it
// receives, and refusal of a forged signature, all inside Chromium.
import { afterAll, beforeAll, expect, it } from "vitest";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { applicationValue } from "../../runtime/client/draft.js";
import { ErrorCode } from "../../runtime/errors.js";
import { describeBrowser } from "./support/describe-browser.js";
import { openBundlePage, type BundlePage } from "./support/bundle-page.js";
import { connectPageAgent, forgedDelivery, startBrowserHub, until, type BrowserHub } from "./support/browser-hub.js";

describeBrowser("browser agent <-> Node agent through the hub", () => {
  let h: BrowserHub;
  let bp: BundlePage;

  beforeAll(async () => {
    h = await startBrowserHub();
    bp = await openBundlePage();
  });

  afterAll(async () => {
    await bp?.close();
    await h?.close();
  });

  it("completes the handshake from the page over ws://", async () => {
    const got = await connectPageAgent(bp.page, h.wsUrl);
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
    const got = await until(() => h.nodeInbox.find((m) => m.env.sender === "browser-agent"), "the browser's message at the Node agent");
    expect(got.verified).toBe(true);
    expect(got.env.id).toBe(receipt?.messageId);
    expect(applicationValue(got.env)).toEqual({ hello: "from chromium" });
  });

  it("receives a signed message from the Node agent and verifies it in the page", async () => {
    const receipt = await h.node.send({ to: "browser-agent", json: { hello: "from node", n: 42 }, requiresAck: true });
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
    const state = await forgedDelivery(h, bp.page);
    expect(state.delivered).toBe(false);
    expect(state.drops).toContain(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(bp.page.errors).toEqual([]);
  });
});
