// `fleet hub --ws-port`: the real CLI process serves browsers; a page connects to the ws://
// address the hub announces, and a signed message goes out and comes back through it.
import { afterAll, expect, it } from "vitest";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { cleanup, spawnHub, tmpDir } from "../hub/support.js";
import { describeBrowser } from "./support/describe-browser.js";
import { openBundlePage, type BundlePage } from "./support/bundle-page.js";

describeBrowser("fleet hub --ws-port", () => {
  let bp: BundlePage | undefined;
  afterAll(async () => {
    await bp?.close();
    await cleanup();
  });

  it("announces a ws:// listener that a browser agent uses", async () => {
    const hub = await spawnHub(tmpDir("fleet-browser-cli-"), ["--ws-port", "0"]);
    const listening = hub
      .output()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { event?: string; ws_url?: string; ws_port?: number })
      .find((e) => e.event === "listening");
    expect(listening?.ws_url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    expect(listening?.ws_port).toBeGreaterThan(0);

    bp = await openBundlePage();
    const got = await bp.page.evaluate(async (url) => {
      const f = window.fleet;
      const conn = await f.connectHub({ url, port: 0, identity: f.generateIdentity("page-agent") });
      const back = new Promise<{ value: unknown; verified: boolean }>((resolve) => conn.onMessage((env, meta) => resolve({ value: f.applicationValue(env), verified: meta.verified })));
      const receipt = await conn.send({ to: "page-agent", json: { round: "trip" }, requiresAck: true });
      const message = await back;
      await conn.close();
      return { status: receipt?.status, ...message };
    }, listening!.ws_url!);
    expect(got).toEqual({ status: ReceiptStatus.ACCEPTED, value: { round: "trip" }, verified: true });
  });
});
