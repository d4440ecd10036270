// The hub's history (runtime/hub/history.ts, spec/history.md): threads grouped on thread_id
// and in_reply_to across the fast (signed, forwarded in place) and full (session) paths,
// only participants read a thread and each sees only its own side, bounded by count and age,
// and the `fleet hub --history-max` / `fleet threads` / `fleet thread` commands.
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { applicationValue } from "../../runtime/client/draft.js";
import { main } from "../../runtime/cli/main.js";
import { listThreads, readThread } from "../../runtime/client/history.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { ErrorCode } from "../../runtime/errors.js";
import { History } from "../../runtime/hub/history.js";
import { HistoryClient, MAX_UNRECORDED } from "../../runtime/hub/history-client.js";
import { cleanup, inProcessHub, runCli, spawnHub, useHub, tmpDir } from "./support.js";

afterEach(cleanup);

async function agents(port: number, names: string[], groups: Record<string, string[]> = {}) {
  const out = [];
  for (const n of names) out.push(await connectHub({ port, identity: generateIdentity(n), groups: groups[n] }));
  return out;
}

describe("hub history", () => {
  it("groups threads by thread_id and in_reply_to, signed and session alike; only participants read, each its own side", async () => {
    const running = await inProcessHub();
    const [alpha, beta, gamma, delta] = await agents(running.port, ["alpha", "beta", "gamma", "delta"], { beta: ["ops"], gamma: ["ops"] });
    try {
      // A message without a thread starts one named by its id; a reply naming it (in_reply_to only) joins it.
      const first = globalThis.crypto.randomUUID();
      await alpha.send({ id: first, to: "beta", text: "question", requiresAck: true });
      await beta.send({ to: "alpha", text: "answer", inReplyTo: first, requiresAck: true });
      // Session-authenticated (unsigned) traffic is kept too, marked as not verified end to end.
      await alpha.send({ to: "beta", text: "thanks", inReplyTo: first, threadId: first, sign: false, requiresAck: true });
      // A group message: every member is a participant.
      await alpha.send({ to: "group:ops", json: { deploy: 1 }, threadId: "t-ops", requiresAck: true });
      // Same thread id, different pairs: each sees only its own messages.
      await alpha.send({ to: "gamma", text: "for gamma only", threadId: "t-ops", requiresAck: true });

      const t = await readThread(alpha, first);
      expect(t.messages.map((m) => [m.env.sender, applicationValue(m.env), m.verified])).toEqual([
        ["alpha", "question", true],
        ["beta", "answer", true],
        ["alpha", "thanks", false],
      ]);
      expect((await readThread(beta, first)).messages).toHaveLength(3);
      expect((await readThread(beta, "t-ops")).messages.map((m) => applicationValue(m.env))).toEqual([{ deploy: 1 }]);
      expect((await readThread(gamma, "t-ops")).messages.map((m) => applicationValue(m.env))).toEqual([{ deploy: 1 }, "for gamma only"]);
      expect((await readThread(gamma, "t-ops")).messages[0].recipients).toEqual(["beta", "gamma"]);
      // Not a participant: 603, for a thread that exists and for one that does not alike.
      await expect(readThread(delta, first)).rejects.toMatchObject({ code: ErrorCode.SECURITY_UNAUTHORIZED });
      await expect(readThread(delta, "no-such-thread")).rejects.toMatchObject({ code: ErrorCode.SECURITY_UNAUTHORIZED });

      const threads = await listThreads(alpha);
      expect(threads.map((x) => x.thread_id).sort()).toEqual([first, "t-ops"].sort());
      expect(threads.find((x) => x.thread_id === "t-ops")).toMatchObject({ messages: 2, participants: ["alpha", "beta", "gamma"] });
      expect(await listThreads(delta)).toEqual([]);

      // Paging back with before.
      const page = await readThread(alpha, first, { limit: 2 });
      expect(page.more).toBe(true);
      expect(page.messages.map((m) => applicationValue(m.env))).toEqual(["answer", "thanks"]);
      const older = await readThread(alpha, first, { limit: 2, before: page.messages[0].seq });
      expect(older.messages.map((m) => applicationValue(m.env))).toEqual(["question"]);
    } finally {
      for (const c of [alpha, beta, gamma, delta]) await c.close();
    }
  });

  it("keeps at most maxMessages (oldest go first); a hub without history says so (402)", async () => {
    const running = await inProcessHub({ history: { maxMessages: 5 } } as never);
    const [alpha, beta] = await agents(running.port, ["alpha", "beta"]);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const id = `m-${i}`;
      ids.push(id);
      await alpha.send({ id, to: "beta", json: { i }, requiresAck: true });
    }
    expect(await running.hub.history.size()).toBe(5);
    expect((await listThreads(alpha, 200)).map((t) => t.thread_id).sort()).toEqual(ids.slice(7).sort());
    await expect(readThread(alpha, "m-0")).rejects.toMatchObject({ code: ErrorCode.SECURITY_UNAUTHORIZED });
    await alpha.close();
    await beta.close();

    const off = await inProcessHub({ history: { maxMessages: 0 } } as never);
    const [a2] = await agents(off.port, ["alpha"]);
    await expect(listThreads(a2)).rejects.toMatchObject({ code: ErrorCode.CAPABILITY_NOT_SUPPORTED });
    await a2.close();
  });

  it("forgets messages older than maxAgeMs, and keeps a retried message once", () => {
    let now = 1_000_000;
    const h = new History(join(tmpDir("fleet-history-"), "h"), { maxAgeMs: 60_000 }, () => now);
    const rec = (id: string, thread = "") => ({ id, sender: "a", recipients: ["b"], threadId: thread, inReplyTo: "", packet: new Uint8Array([1, 2, 3]), signed: true, at: now });
    h.record(rec("old", "t"));
    h.record(rec("old", "t")); // the same message retried (requires_ack) is one row
    expect(h.size()).toBe(1);
    now += 30_000;
    h.record(rec("newer", "t"));
    expect(h.size()).toBe(2);
    now += 40_000; // "old" is now 70 s old
    h.sweep();
    expect(h.size()).toBe(1);
    expect(h.thread("b", "t").messages.map((m) => m.id)).toEqual(["newer"]);
    h.close();
  });

  it("holds at most MAX_UNRECORDED records for its writer thread; beyond that they are dropped and counted", async () => {
    const h = new HistoryClient(join(tmpDir("fleet-history-"), "h"), { maxMessages: 100 });
    const packet = new Uint8Array([1]);
    for (let i = 0; i < MAX_UNRECORDED + 10; i++) h.record({ id: `m-${i}`, sender: "a", recipients: ["b"], threadId: "", inReplyTo: "", packet, signed: true, at: Date.now() });
    expect(h.dropped).toBe(10);
    expect(await h.size()).toBe(100);
    await h.close();
  });

  it("keeps the party rows of dropped messages bounded too", () => {
    const h = new History(join(tmpDir("fleet-history-"), "h"), { maxMessages: 10 });
    for (let i = 0; i < 5_000; i++) h.record({ id: `m-${i}`, sender: "a", recipients: ["b"], threadId: `t-${i % 7}`, inReplyTo: "", packet: new Uint8Array([i & 255]), signed: true, at: Date.now() });
    expect(h.size()).toBe(10);
    // Orphans are removed once more than max(1,000, maxMessages / 2) messages were dropped.
    expect(h.partiesSize()).toBeLessThanOrEqual((10 + 1_001) * 2);
    h.sweep();
    expect(h.partiesSize()).toBe(20);
    h.close();
  });

  it("fleet hub --history-max, fleet send --thread, fleet threads and fleet thread as processes", async () => {
    const home = tmpDir();
    useHub(home, (await spawnHub(home, ["--history-max", "2"])).port);
    // The same CLI entry point in-process where spawning would only measure tsx start-up;
    // threads and thread below run as processes.
    const cli = async (args: string[]) => {
      let out = "";
      const code = await main([...args, "--home", home], { write: (t) => (out += t), writeErr: (t) => (out += t) });
      return { code, out };
    };
    for (const a of ["alpha", "beta", "gamma"]) expect((await cli(["keygen", "--agent-id", a])).code).toBe(0);
    expect((await cli(["inbox", "--agent", "beta", "--wait", "0"])).code).toBe(0); // beta registers with the hub
    for (const text of ["one", "two", "three"]) expect((await cli(["send", "beta", text, "--agent", "alpha", "--thread", "t-cli"])).code).toBe(0);
    const threads = JSON.parse((await runCli(["threads", "--agent", "beta", "--json"], home)).stdout);
    expect(threads.threads).toEqual([expect.objectContaining({ thread_id: "t-cli", messages: 2, participants: ["alpha", "beta"] })]);
    const thread = JSON.parse((await runCli(["thread", "t-cli", "--agent", "beta", "--json"], home)).stdout);
    expect(thread.messages.map((m: { content: string; verified: boolean; from: string }) => [m.from, m.content, m.verified])).toEqual([
      ["alpha", "two", true],
      ["alpha", "three", true],
    ]);
    const denied = await cli(["thread", "t-cli", "--agent", "gamma"]);
    expect(denied.code).toBe(1);
    expect(denied.out).toMatch(/^fleet: error 603 SECURITY_UNAUTHORIZED: gamma is not a participant/);
  }, 120_000);
});
