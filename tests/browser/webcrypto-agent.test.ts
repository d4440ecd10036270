// Which crypto a browser agent really uses, seen from inside Chromium: every crypto.subtle
// call is recorded from before the bundle loads while the page's agent does a handshake with
// a real hub over ws:// and exchanges verified messages with a Node agent. With Ed25519 and
// X25519 in WebCrypto the agent must use them; with both unavailable (as in older browsers)
// it must fall back to @noble and still complete everything, refusing a forgery all the same.
import { afterAll, beforeAll, expect, it } from "vitest";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { applicationValue } from "../../runtime/client/draft.js";
import { ErrorCode } from "../../runtime/errors.js";
import { connectPageAgent, forgedDelivery, startBrowserHub, until, type BrowserHub } from "./support/browser-hub.js";
import { openBundlePage } from "./support/bundle-page.js";
import { describeBrowser } from "./support/describe-browser.js";
import { subtleLogScript, tally, type SubtleCall } from "./support/subtle-log.js";

interface AgentRun {
  peer: string;
  receipt?: { status: number; messageId: string };
  /** The page's message as the Node agent got it. */
  atNode?: { value: unknown; verified: boolean };
  /** The Node agent's message as the page got it. */
  atPage?: { value: unknown; verified: boolean; sender: string };
  forged: { delivered: boolean; drops: number[] };
  calls: SubtleCall[];
  pageErrors: string[];
}

describeBrowser("browser agent: WebCrypto Ed25519/X25519 in use, @noble as the fallback", () => {
  let h: BrowserHub;
  beforeAll(async () => {
    h = await startBrowserHub();
  });
  afterAll(async () => {
    await h?.close();
  });

  /** A fresh page (subtle wrapped from the start), one agent: handshake, a message each way, a forgery. */
  async function runAgent(name: string, unsupported: string[]): Promise<AgentRun> {
    const bp = await openBundlePage({ initScript: subtleLogScript(unsupported) });
    try {
      const { peer } = await connectPageAgent(bp.page, h.wsUrl, name);
      const receipt = await bp.page.evaluate(async (to) => {
        const r = await window.agent.conn.send({ to, json: { hello: "from chromium" }, requiresAck: true });
        return r && { status: r.status, messageId: r.messageId };
      }, h.nodeId.agent);
      const atNode = await until(() => h.nodeInbox.find((m) => m.env.id === receipt?.messageId), `${name}'s message at the Node agent`);
      const sent = await h.node.send({ to: name, json: { hello: name, n: 7 }, requiresAck: true });
      await bp.page.waitForFunction((id) => window.agent.inbox.some((m) => m.id === id), sent!.messageId, { timeout: 10_000 });
      const atPage = await bp.page.evaluate((id) => window.agent.inbox.find((m) => m.id === id), sent!.messageId);
      const forged = await forgedDelivery(h, bp.page, name);
      const calls = await bp.page.evaluate(() => window.subtleCalls);
      await bp.page.evaluate(() => window.agent.conn.close());
      return { peer, receipt, atNode: { value: applicationValue(atNode.env), verified: atNode.verified }, atPage, forged, calls, pageErrors: [...bp.page.errors] };
    } finally {
      await bp.close();
    }
  }

  function expectExchanged(run: AgentRun, name: string): void {
    expect(run.peer).toBe("fleet-hub");
    expect(run.receipt?.status).toBe(ReceiptStatus.ACCEPTED);
    expect(run.atNode).toEqual({ value: { hello: "from chromium" }, verified: true });
    expect(run.atPage).toMatchObject({ sender: h.nodeId.agent, verified: true, value: { hello: name, n: 7 } });
    expect(run.forged.delivered).toBe(false);
    expect(run.forged.drops).toContain(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(run.pageErrors).toEqual([]);
  }

  it("signs, verifies and agrees keys with WebCrypto Ed25519 and X25519 (not @noble) through a whole session", async () => {
    const run = await runAgent("browser-webcrypto", []);
    expectExchanged(run, "browser-webcrypto");
    const ok = tally(run.calls, true);
    // Hello, Confirm and the message were signed; Welcome, the Node agent's message and the forgery verified.
    expect(ok["sign:Ed25519"]).toBeGreaterThanOrEqual(3);
    expect(ok["verify:Ed25519"]).toBeGreaterThanOrEqual(3);
    expect(ok["importKey:Ed25519"]).toBeGreaterThan(0);
    // The probe and the handshake's ephemeral key; the agreement with the hub's ephemeral.
    expect(ok["generateKey:X25519"]).toBeGreaterThanOrEqual(2);
    expect(ok["deriveBits:X25519"]).toBeGreaterThanOrEqual(1);
    expect(run.calls.map((c) => c.alg)).toEqual(expect.arrayContaining(["Ed25519", "X25519"]));
    expect(run.calls.filter((c) => c.ok === false)).toEqual([]);
    // @noble's async Ed25519 hashes through subtle.digest("SHA-512"): it never ran.
    expect(ok["digest:SHA-512"]).toBeUndefined();
  });

  it("falls back to @noble when WebCrypto lacks Ed25519 and X25519, and still completes and verifies everything", async () => {
    const run = await runAgent("browser-noble", ["Ed25519", "X25519"]);
    expectExchanged(run, "browser-noble");
    const curve = run.calls.filter((c) => c.alg === "Ed25519" || c.alg === "X25519");
    expect(curve.filter((c) => c.ok !== false)).toEqual([]);
    // The runtime asked (its feature probes were refused), then used @noble, whose async
    // Ed25519 hashes with subtle.digest("SHA-512").
    const failed = tally(run.calls, false);
    expect(failed["importKey:Ed25519"]).toBeGreaterThan(0);
    expect(failed["generateKey:X25519"]).toBeGreaterThan(0);
    expect(tally(run.calls, true)["digest:SHA-512"]).toBeGreaterThanOrEqual(3);
  });
});
