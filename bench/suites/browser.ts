// In headless Chromium: Ed25519 through WebCrypto (what the runtime picks in browsers) beside
// @noble (its fallback), raw and through the runtime's envelope API; and messages routed from
// a browser agent over WebSocket through the hub, beside a Node agent over TCP. Skips without chromium.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BenchRow, BenchSuite } from "../harness.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { startHub } from "../../runtime/hub/start.js";
import { connectWebSocket, type WebSocketConstructor } from "../../runtime/transport/websocket.js";
import { WebSocket } from "ws";
import { chromiumMissing } from "../../tests/browser/support/chromium.js";
import { openBundlePage, repoRoot, type BundlePage } from "../../tests/browser/support/bundle-page.js";
import type { Ed25519Rates, EnvelopeRates } from "../../tests/browser/support/webcrypto-page.js";

const ROUTED = 3_000;
const ROUTED_TEXT = "x".repeat(1024);

/** Messages per second from `send` (which fires `count` session-authenticated 1 KiB messages) to their arrival. */
async function routedRate(count: number, arrived: () => number, send: () => Promise<unknown>, timeoutMs = 30_000): Promise<number> {
  const base = arrived();
  const start = performance.now();
  await send();
  while (arrived() - base < count) {
    if (performance.now() - start > timeoutMs) throw new Error(`only ${arrived() - base} of ${count} messages arrived in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return (count / (performance.now() - start)) * 1000;
}

async function routedRows(bp: BundlePage): Promise<{ ws: number; tcp: number; nodeWs: number }> {
  const dir = mkdtempSync(join(tmpdir(), "fleet-bench-browser-"));
  const hub = await startHub({ storeDir: join(dir, "hub"), identity: generateIdentity("fleet-hub"), port: 0, wsPort: 0 });
  try {
    const sink = await connectHub({ port: hub.port, identity: generateIdentity("bench-sink") });
    let received = 0;
    sink.onMessage(() => void received++);
    const nodeSender = await connectHub({ port: hub.port, identity: generateIdentity("bench-node") });
    const wsConn = await connectWebSocket(hub.wsUrl!, { WebSocket: WebSocket as unknown as WebSocketConstructor });
    const nodeWsSender = await connectHub({ port: 0, identity: generateIdentity("bench-node-ws"), conn: wsConn });
    await bp.page.evaluate(async (url) => {
      const f = window.fleet;
      (window as unknown as { benchAgent: unknown }).benchAgent = await f.connectHub({ url, port: 0, identity: f.generateIdentity("bench-browser") });
    }, hub.wsUrl!);
    const ws = await routedRate(ROUTED, () => received, () =>
      bp.page.evaluate(
        async ([n, text]) => {
          const agent = (window as unknown as { benchAgent: import("../../runtime/client/connection.js").HubConnection }).benchAgent;
          const sent: Promise<unknown>[] = [];
          for (let i = 0; i < n; i++) sent.push(agent.send({ to: "bench-sink", text, sign: false }));
          await Promise.all(sent);
        },
        [ROUTED, ROUTED_TEXT] as const,
      ),
    );
    const tcp = await routedRate(ROUTED, () => received, async () => {
      const sent: Promise<unknown>[] = [];
      for (let i = 0; i < ROUTED; i++) sent.push(nodeSender.send({ to: "bench-sink", text: ROUTED_TEXT, sign: false }));
      await Promise.all(sent);
    });
    const nodeWs = await routedRate(ROUTED, () => received, async () => {
      const sent: Promise<unknown>[] = [];
      for (let i = 0; i < ROUTED; i++) sent.push(nodeWsSender.send({ to: "bench-sink", text: ROUTED_TEXT, sign: false }));
      await Promise.all(sent);
    });
    await nodeWsSender.close();
    await nodeSender.close();
    await sink.close();
    return { ws, tcp, nodeWs };
  } finally {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const suite: BenchSuite = {
  name: "browser",
  async run(): Promise<BenchRow[]> {
    if (chromiumMissing) {
      process.stderr.write(`bench: browser skipped: ${chromiumMissing}\n`);
      return [];
    }
    const bp = await openBundlePage({ modules: { webcrypto: join(repoRoot, "tests/browser/support/webcrypto-page.ts") } });
    try {
      const r: Ed25519Rates = await bp.page.evaluate(() => window.pageModules.webcrypto.ed25519Rates(600, 200, 32));
      const e: EnvelopeRates = await bp.page.evaluate(() => window.pageModules.webcrypto.envelopeRates(window.fleet, 600));
      const routed = await routedRows(bp);
      const browser = bp.browser.context.browser()?.version() ?? "chromium";
      const row = (name: string, rate: number, anchor?: string, extra: Record<string, number | string> = { bytes: 200 }, unit: BenchRow["unit"] = "ops/s"): BenchRow => ({ suite: "browser", name, rate, unit, anchor, extra: { browser, ...extra } });
      const envelope = { message: "envelope, 100-char JSON" };
      const routedExtra = { messages: ROUTED, bytes: ROUTED_TEXT.length, auth: "session HMAC" };
      return [
        row("ed25519 sign webcrypto", r.webcryptoSign),
        row("ed25519 sign webcrypto x32 in flight", r.webcryptoSignParallel, "ed25519 sign webcrypto"),
        row("ed25519 sign noble", r.nobleSign, "ed25519 sign webcrypto"),
        row("ed25519 verify webcrypto", r.webcryptoVerify),
        row("ed25519 verify webcrypto x32 in flight", r.webcryptoVerifyParallel, "ed25519 verify webcrypto"),
        row("ed25519 verify noble", r.nobleVerify, "ed25519 verify webcrypto"),
        // The runtime's envelope API in the page: sync = noble, async = WebCrypto.
        row("signEnvelopeAsync (webcrypto)", e.signAsync, undefined, envelope),
        row("signEnvelope sync (noble)", e.signSync, "signEnvelopeAsync (webcrypto)", envelope),
        row("openSignedEnvelopeAsync (webcrypto)", e.openAsync, undefined, envelope),
        row("openSignedEnvelope sync (noble)", e.openSync, "openSignedEnvelopeAsync (webcrypto)", envelope),
        // One hub, one receiving Node agent: the same messages from Node over TCP, from Node over
        // ws:// (the carrier alone) and from Chromium over ws:// (carrier + browser runtime).
        row("routed node (tcp) -> hub -> node", routed.tcp, undefined, routedExtra, "msg/s"),
        row("routed node (ws) -> hub -> node", routed.nodeWs, "routed node (tcp) -> hub -> node", routedExtra, "msg/s"),
        row("routed chromium (ws) -> hub -> node", routed.ws, "routed node (tcp) -> hub -> node", routedExtra, "msg/s"),
      ];
    } finally {
      await bp.close();
    }
  },
};
