// The library form of `fleet serve`: AgentServer with a JavaScript handler, against an
// in-process hub: a handler that ignores its timeout still holds its worker (concurrency
// stays bounded) while the sender already has TIMED_OUT; the queue bound refuses with 804.
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { Ledger } from "../../runtime/agent/ledger.js";
import { AgentServer, type HandlerOutcome } from "../../runtime/agent/serve.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { ErrorCode } from "../../runtime/errors.js";
import { cleanup, inProcessHub, tmpDir, until } from "../hub/support.js";

afterEach(cleanup);

const statusOf = (e: Envelope | undefined) => (e?.body?.kind.case === "receipt" ? e.body.kind.value : undefined);

describe("AgentServer (library)", () => {
  it("times out a stuck handler without freeing its worker early, and refuses beyond the queue bound", async () => {
    const running = await inProcessHub();
    const alpha = await connectHub({ port: running.port, identity: generateIdentity("alpha") });
    const svc = await connectHub({ port: running.port, identity: generateIdentity("svc") });
    const got: Envelope[] = [];
    alpha.onMessage((e) => got.push(e));
    const release: (() => void)[] = [];
    let live = 0;
    let most = 0;
    const server = new AgentServer({
      conn: svc,
      ledger: new Ledger(join(tmpDir("fleet-as-"), "l.db")),
      concurrency: 1,
      queueMax: 1,
      timeoutMs: 200,
      // Ignores its abort signal: only release() ends it.
      handler: () => {
        live++;
        most = Math.max(most, live);
        return new Promise<HandlerOutcome>((resolve) =>
          release.push(() => {
            live--;
            resolve({ status: "processed" });
          }),
        );
      },
    });
    await server.start();
    try {
      await alpha.send({ id: "a1", to: "svc", text: "1", requiresAck: true });
      await until(() => server.active === 1, 5_000, "a1 running");
      await alpha.send({ id: "a2", to: "svc", text: "2", requiresAck: true }); // waits (queue 1/1)
      await until(() => server.queued === 1, 5_000, "a2 queued");
      await alpha.send({ id: "a3", to: "svc", text: "3", requiresAck: true }); // refused: queue full
      await until(() => got.some((e) => statusOf(e)?.messageId === "a3"), 5_000, "a3 refused");
      expect(statusOf(got.find((e) => statusOf(e)?.messageId === "a3"))).toMatchObject({ status: ReceiptStatus.REJECTED, code: ErrorCode.DELIVERY_BUSY });
      await until(() => got.some((e) => statusOf(e)?.messageId === "a1"), 5_000, "a1 timed out");
      expect(statusOf(got.find((e) => statusOf(e)?.messageId === "a1"))!.status).toBe(ReceiptStatus.TIMED_OUT);
      // a1's handler still runs, so a2 has not started.
      expect(server.active).toBe(1);
      expect(server.queued).toBe(1);
      release.shift()!();
      await until(() => release.length === 1, 5_000, "a2 started");
      release.shift()!();
      await until(() => got.some((e) => statusOf(e)?.messageId === "a2"), 5_000, "a2 answered");
      expect(most).toBe(1);
      expect(server.counters.refused).toBe(1);
      expect(server.counters.timedOut + server.counters.processed).toBe(2); // a2 either way, depending on the clock
    } finally {
      for (const r of release) r();
      await server.stop();
      await alpha.close();
      await svc.close();
    }
  });
});
