// `fleet serve --exec` as a real process with real commands against a real hub process:
// outcomes become receipts (PROCESSED, RESPONSE, FAILED with the exit code, TIMED_OUT),
// message content never reaches a shell, concurrency is bounded, and a message is handed
// over at most once across a SIGKILL and restart (an interrupted one is reported).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Envelope, MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { Ledger, LedgerState } from "../../runtime/agent/ledger.js";
import type { HubConnection } from "../../runtime/client/connection.js";
import { applicationValue } from "../../runtime/client/draft.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { FleetError } from "../../runtime/errors.js";
import { cleanup, FLEET_BIN, runCli, spawnHub, useHub, tmpDir, until, type HubProcess } from "../hub/support.js";

let home: string;
let hub: HubProcess;
let alpha: HubConnection;
const alphaGot: Envelope[] = [];

beforeAll(async () => {
  home = tmpDir();
  hub = await spawnHub(home);
  useHub(home, hub.port);
  for (const a of ["svc", "svc2", "svc3"]) expect((await runCli(["keygen", "--agent-id", a], home)).code).toBe(0);
  alpha = await connectHub({ port: hub.port, identity: generateIdentity("alpha") });
  alpha.onMessage((e) => alphaGot.push(e));
}, 60_000);

afterAll(async () => {
  await alpha?.close();
  await cleanup();
});

interface Served {
  child: ChildProcess;
  out: () => string;
  exited: Promise<unknown>;
}

async function startServe(agent: string, cmd: string, extra: string[] = []): Promise<Served> {
  const child = spawn(process.execPath, [FLEET_BIN, "serve", "--agent", agent, "--exec", cmd, "--json", ...extra], { env: { ...process.env, FLEET_HOME: home, FLEET_HUB: "" }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise((r) => child.on("exit", r));
  await until(() => out.includes('"event":"serving"'), 20_000, `fleet serve ${agent} started: ${out}`);
  return { child, out: () => out, exited };
}

async function stop(s: Served, signal: NodeJS.Signals = "SIGTERM") {
  s.child.kill(signal);
  await s.exited;
}

const receiptFor = (id: string) => alphaGot.find((e) => e.inReplyTo === id && e.body?.kind.case === "receipt");

describe("fleet serve --exec", () => {
  it("turns outcomes into receipts and responses; content never reaches a shell; fields arrive in env vars", async () => {
    const dir = tmpDir("fleet-serve-");
    // A handler that records its stdin and env, and acts on the message's JSON (via a real
    // program reading stdin, never through the command line).
    const script = `cat > "${dir}/in-$FLEET_MESSAGE_ID.json"; printf '%s|%s|%s|%s' "$FLEET_MESSAGE_FROM" "$FLEET_MESSAGE_TYPE" "$FLEET_MESSAGE_VERIFIED" "$FLEET_THREAD_ID" > "${dir}/env-$FLEET_MESSAGE_ID"; exec /usr/bin/python3 -c 'import json,sys,time; m=json.load(open(sys.argv[1])); c=m["content"]; a=c.get("act") if isinstance(c,dict) else None; time.sleep(5) if a=="slow" else None; sys.exit(3) if a=="fail" else None; print(json.dumps({"echo": c})) if a=="answer" else None' "${dir}/in-$FLEET_MESSAGE_ID.json"`;
    const s = await startServe("svc", script, ["--timeout-ms", "1500", "--concurrency", "2"]);
    try {
      // PROCESSED for an event; the hostile text is written to a file verbatim, not run.
      const evil = `x; touch ${dir}/pwned1 $(touch ${dir}/pwned2) \`touch ${dir}/pwned3\` | touch ${dir}/pwned4`;
      const ev = globalThis.crypto.randomUUID();
      await alpha.send({ id: ev, to: "svc", text: evil, threadId: "t-1", requiresAck: true });
      await until(() => receiptFor(ev) !== undefined, 15_000, "processed receipt");
      const r = receiptFor(ev)!;
      expect(r.body?.kind.case === "receipt" && r.body.kind.value.status).toBe(ReceiptStatus.PROCESSED);
      expect(r.sender).toBe("svc");
      expect(r.threadId).toBe("t-1");
      expect(readdirSync(dir).filter((f) => f.startsWith("pwned"))).toEqual([]);
      const input = JSON.parse(readFileSync(join(dir, `in-${ev}.json`), "utf8"));
      expect(input).toMatchObject({ id: ev, from: "alpha", to: "svc", verified: true, content: evil, thread_id: "t-1" });
      expect(readFileSync(join(dir, `env-${ev}`), "utf8")).toBe("alpha|event|1|t-1");

      // A request whose handler prints JSON: that JSON is the RESPONSE.
      const answer = await alpha.request({ to: "svc", json: { act: "answer", n: 7 } }, 15_000);
      expect(answer.type).toBe(MessageType.RESPONSE);
      expect(applicationValue(answer)).toEqual({ echo: { act: "answer", n: 7 } });
      expect(alpha.answerVerified(answer)).toBe(true);

      // Non-zero exit: a FAILED receipt with the exit code (the request fails with it).
      const failed = await alpha.request({ to: "svc", json: { act: "fail" } }, 15_000).catch((e: FleetError) => e);
      expect(failed).toBeInstanceOf(FleetError);
      const fr = (failed as FleetError).cause as { status: ReceiptStatus; exitCode: number };
      expect(fr.status).toBe(ReceiptStatus.FAILED);
      expect(fr.exitCode).toBe(3);
      expect((failed as FleetError).message).toMatch(/exit code 3/);

      // Timeout: TIMED_OUT, and the handler process is stopped.
      const slow = globalThis.crypto.randomUUID();
      await alpha.send({ id: slow, to: "svc", json: { act: "slow" }, requiresAck: true });
      await until(() => receiptFor(slow) !== undefined, 15_000, "timeout receipt");
      const tr = receiptFor(slow)!;
      expect(tr.body?.kind.case === "receipt" && tr.body.kind.value.status).toBe(ReceiptStatus.TIMED_OUT);
      await until(() => s.out().includes(`"id":"${slow}","from":"alpha","status":"timed_out"`), 10_000, "timed_out event");
    } finally {
      await stop(s);
    }
  }, 90_000);

  it("runs at most --concurrency handlers at once", async () => {
    const dir = tmpDir("fleet-serve-conc-");
    const log = join(dir, "log");
    const s = await startServe("svc2", `echo "start $FLEET_MESSAGE_ID" >> ${log}; sleep 0.4; echo "end $FLEET_MESSAGE_ID" >> ${log}`, ["--concurrency", "2"]);
    try {
      const ids = Array.from({ length: 6 }, () => globalThis.crypto.randomUUID());
      for (const id of ids) await alpha.send({ id, to: "svc2", text: "work", requiresAck: true });
      await until(() => ids.every((id) => receiptFor(id) !== undefined), 30_000, "all processed");
      let live = 0;
      let most = 0;
      for (const line of readFileSync(log, "utf8").trim().split("\n")) {
        live += line.startsWith("start") ? 1 : -1;
        most = Math.max(most, live);
      }
      expect(most).toBe(2);
    } finally {
      await stop(s);
    }
  }, 60_000);

  it("hands a message over at most once across SIGKILL and restart: the interrupted one is reported, not rerun", async () => {
    const dir = tmpDir("fleet-serve-restart-");
    // Each run leaves a marker; the first message's handler hangs until the process is killed.
    // The run marker comes before the pid file: the test kills as soon as the pid file exists.
    const cmd = `touch ${dir}/ran-$FLEET_MESSAGE_ID-$(date +%s%N); echo $$ > ${dir}/pid-$FLEET_MESSAGE_ID; if [ -e ${dir}/hang ]; then sleep 60; fi`;
    writeFileSync(join(dir, "hang"), "");
    let s = await startServe("svc3", cmd);
    const first = globalThis.crypto.randomUUID();
    await alpha.send({ id: first, to: "svc3", text: "long job", requiresAck: true });
    await until(() => existsSync(join(dir, `pid-${first}`)), 15_000, "handler started");
    await stop(s, "SIGKILL");
    // The orphaned handler's process group is ended here (fleet serve was killed, not it).
    const pgid = Number(readFileSync(join(dir, `pid-${first}`), "utf8"));
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // already gone
    }
    // The ledger says it was running.
    const ledger = new Ledger(join(home, "serve", "svc3.db"));
    expect(ledger.outcomeOf("alpha", first)?.state).toBe(LedgerState.RUNNING);
    ledger.close();

    // Restart (the hang switch off): the interrupted message is reported as FAILED, never rerun.
    rmSync(join(dir, "hang"));
    s = await startServe("svc3", cmd);
    try {
      await until(() => receiptFor(first) !== undefined, 15_000, "interrupted report");
      const r = receiptFor(first)!;
      expect(r.body?.kind.case === "receipt" && r.body.kind.value.status).toBe(ReceiptStatus.FAILED);
      expect(r.body?.kind.case === "receipt" && r.body.kind.value.detail).toMatch(/interrupted by a restart/);
      expect(s.out()).toMatch(/"reported":1/);
      // A later message runs normally; the first ran exactly once.
      const second = globalThis.crypto.randomUUID();
      await alpha.send({ id: second, to: "svc3", text: "short job", requiresAck: true });
      await until(() => receiptFor(second) !== undefined, 15_000, "second processed");
      expect(readdirSync(dir).filter((f) => f.startsWith(`ran-${first}`))).toHaveLength(1);
      expect(readdirSync(dir).filter((f) => f.startsWith(`ran-${second}`))).toHaveLength(1);
    } finally {
      await stop(s);
    }
  }, 90_000);
});

describe("serve ledger (SQLite)", () => {
  it("claims a message once, also after reopening, and keeps at most maxEntries finished rows", () => {
    const file = join(tmpDir("fleet-ledger-"), "l.db");
    let l = new Ledger(file, 3);
    expect(l.claim("a", "m1", new Uint8Array([1]), true)).toBe(true);
    expect(l.claim("a", "m1", new Uint8Array([1]), true)).toBe(false);
    expect(l.claim("b", "m1", new Uint8Array([1]), true)).toBe(true); // ids are per sender
    l.close();
    l = new Ledger(file, 3);
    expect(l.claim("a", "m1", new Uint8Array([1]), true)).toBe(false);
    expect(l.inState(LedgerState.QUEUED).map((r) => `${r.sender}/${r.id}`)).toEqual(["a/m1", "b/m1"]);
    for (let i = 0; i < 10; i++) {
      l.claim("c", `x${i}`, new Uint8Array([i]), false);
      l.finish("c", `x${i}`, { status: "processed" });
    }
    // 2 unfinished + at most 3 finished.
    expect(l.size()).toBe(5);
    expect(l.outcomeOf("c", "x9")).toEqual({ state: LedgerState.DONE, outcome: { status: "processed" } });
    expect(l.outcomeOf("c", "x0")).toBeUndefined();
    l.close();
  });
});

