// Real hub processes (`node bin/fleet.js hub --port 0`): SIGKILL mid-stream and restart
// loses nothing acknowledged and delivers it exactly once; garbage never crashes the
// process; an unwritable store is a clear 808 at start.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ApplicationPayloadSchema } from "../../generated/proto/fleet/v1/payload_pb.js";
import type { HubConnection } from "../../runtime/client/connection.js";
import { applicationValue } from "../../runtime/client/draft.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { systemClock } from "../../runtime/clock.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { HUB_OP_MEDIA_TYPE } from "../../runtime/hub/hub-requests.js";
import { Deduper } from "../../runtime/protocol/dedupe.js";
import { cleanup, envelopeOfFrame, rawSocket, runCli, spawnHub, tmpDir, until } from "./support.js";

afterEach(cleanup);

async function hubInbox(c: HubConnection): Promise<number> {
  const answer = await c.request({ to: "fleet:hub", type: MessageType.QUERY, sign: false, body: { case: "application", value: create(ApplicationPayloadSchema, { mediaType: HUB_OP_MEDIA_TYPE, content: { case: "json", value: '{"op":"status"}' } }) } });
  return (applicationValue(answer) as { inbox: number }).inbox;
}

describe("hub process", () => {
  it("loses nothing it acknowledged across SIGKILL and restart, and delivers each message exactly once", async () => {
    const home = tmpDir();
    let hub = await spawnHub(home);
    const alphaId = generateIdentity("alpha");
    const betaId = generateIdentity("beta");
    const gammaId = generateIdentity("gamma");
    // beta is online throughout (its dedupe survives reconnection); gamma is offline until the end.
    const betaDedupe = new Deduper({ clock: systemClock });
    const betaGot: string[] = [];
    const attachBeta = async (port: number) => {
      const c = await connectHub({ port, identity: betaId, dedupe: betaDedupe, reconnect: false });
      c.onMessage((env) => betaGot.push(env.id));
      return c;
    };
    let beta = await attachBeta(hub.port);
    // No client reconnection here (tests/client/reconnect.test.ts has it): what the hub itself kept.
    const alpha = await connectHub({ port: hub.port, identity: alphaId, receiptAttempts: 1, receiptTimeoutMs: 5_000, reconnect: false });
    // Pipelined acknowledged sends; SIGKILL lands while many are in flight.
    const accepted = new Set<string>();
    const sends: Promise<unknown>[] = [];
    let killed = false;
    for (let i = 0; i < 600 && !killed; i++) {
      const id = `m-${i}`;
      const to = i % 2 ? "beta" : "gamma";
      sends.push(alpha.send({ id, to, json: { i }, requiresAck: true }).then(() => accepted.add(id), () => {}));
      if (i % 25 === 24) await new Promise((r) => setTimeout(r, 2));
      if (accepted.size >= 120 && !killed) {
        hub.child.kill("SIGKILL");
        killed = true;
      }
    }
    if (!killed) hub.child.kill("SIGKILL");
    await hub.exited;
    await Promise.allSettled(sends);
    expect(accepted.size).toBeGreaterThanOrEqual(120);

    hub = await spawnHub(home);
    await beta.close();
    beta = await attachBeta(hub.port);
    const gammaGot: string[] = [];
    const gamma = await connectHub({ port: hub.port, identity: gammaId });
    gamma.onMessage((env) => gammaGot.push(env.id));
    const want = [...accepted];
    await until(() => want.every((id) => betaGot.includes(id) || gammaGot.includes(id)), 15_000, "every accepted message");
    await new Promise((r) => setTimeout(r, 200));
    const all = [...betaGot, ...gammaGot];
    for (const id of want) expect(all.filter((x) => x === id).length).toBe(1);
    expect(gammaGot.every((id) => Number(id.slice(2)) % 2 === 0)).toBe(true);

    // Once acknowledged by their recipients, rows are gone for good: a second crash redelivers nothing.
    let left = -1;
    for (let i = 0; i < 100 && left !== 0; i++) {
      left = await hubInbox(gamma);
      if (left) await new Promise((r) => setTimeout(r, 20));
    }
    expect(left).toBe(0);
    hub.child.kill("SIGKILL");
    await hub.exited;
    hub = await spawnHub(home);
    const again: string[] = [];
    const gamma2 = await connectHub({ port: hub.port, identity: gammaId });
    gamma2.onMessage((env) => again.push(env.id));
    await hubInbox(gamma2);
    await new Promise((r) => setTimeout(r, 200));
    expect(again).toEqual([]);
    for (const c of [alpha, beta, gamma, gamma2]) await c.close();
  });

  it("survives garbage: error frame, close, and the process keeps serving", async () => {
    const home = tmpDir();
    const hub = await spawnHub(home);
    for (const junk of ["\x00\x01\x02garbage", "FP\x01\x07\x00\x00\x00\x01x", "FP\x01\x00\x00\x00\x00\x00"]) {
      const raw = await rawSocket(hub.port);
      raw.socket.write(junk);
      await raw.closed;
      const env = envelopeOfFrame(raw.frames.at(-1)!);
      expect(env.type).toBe(MessageType.ERROR);
      expect(env.body?.kind.case).toBe("error");
    }
    const c = await connectHub({ port: hub.port, identity: generateIdentity("alpha") });
    expect(await hubInbox(c)).toBe(0);
    await c.close();
    expect(hub.child.exitCode).toBe(null);
  });

  it("refuses to start on an unwritable store with one clear 808 line", async () => {
    const home = tmpDir();
    writeFileSync(join(home, "hub"), "a file where the store directory should be");
    const r = await runCli(["hub", "--port", "0"], home);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/error 808 DELIVERY_STORE_FAILED/);
  });
});
