// The I2I bridge with real git: two I2I agents clone, push and pull through their git daemon
// URLs exactly as I2I's tools do (commit --allow-empty -m "[I2I:...]", push, pull, log), a
// real hub and a Fleet agent; both directions, the three subject formats, and every
// refusal spec/bridges/i2i.md lists (forged sender, force-push, branch deletion).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Envelope } from "../../../generated/proto/fleet/v1/envelope_pb.js";
import { connectHub } from "../../../runtime/client/hub-client.js";
import type { HubConnection } from "../../../runtime/client/connection.js";
import { applicationValue } from "../../../runtime/client/draft.js";
import { generateIdentity } from "../../../runtime/crypto/index.js";
import { startI2IBridge, type I2IBridge } from "../../../runtime/bridges/i2i/bridge.js";
import { parseI2ICommit } from "../../../runtime/bridges/i2i/subjects.js";
import { hubConnector } from "../../../runtime/bridges/shared/fleet-link.js";
import { cleanup, inProcessHub, tmpDir, until } from "../../hub/support.js";

let bridge: I2IBridge;
let beta: HubConnection;
const inbox: Envelope[] = [];
let work = "";

function gitIn(dir: string, agent: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, GIT_AUTHOR_NAME: agent, GIT_AUTHOR_EMAIL: `${agent}@i2i.test`, GIT_COMMITTER_NAME: agent, GIT_COMMITTER_EMAIL: `${agent}@i2i.test`, AGENT_NAME: agent } });
}

function pushFails(dir: string, agent: string, ...args: string[]): string {
  try {
    execFileSync("git", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, GIT_AUTHOR_NAME: agent, GIT_AUTHOR_EMAIL: `${agent}@x`, GIT_COMMITTER_NAME: agent, GIT_COMMITTER_EMAIL: `${agent}@x` } });
  } catch (e) {
    return String((e as { stderr?: string }).stderr);
  }
  throw new Error(`git ${args.join(" ")} succeeded`);
}

/** I2IProtocol.send: an empty commit with a v0.1 subject, pushed. */
function send(agent: string, subject: string): string {
  const dir = join(work, agent);
  gitIn(dir, agent, "pull", "-q", "--rebase", "origin", "main");
  gitIn(dir, agent, "commit", "-q", "--allow-empty", "-m", subject);
  gitIn(dir, agent, "push", "-q", "origin", "HEAD:main");
  return gitIn(dir, agent, "rev-parse", "HEAD").trim();
}

/** I2IProtocol.receive: pull, then read `git log --format=%H|%ci|%s`. */
function log(agent: string): { hash: string; subject: string }[] {
  const dir = join(work, agent);
  gitIn(dir, agent, "pull", "-q", "--rebase", "origin", "main");
  return gitIn(dir, agent, "log", "--format=%H|%ci|%s").trim().split("\n").map((l) => {
    const [hash, , ...s] = l.split("|");
    return { hash: hash!, subject: s.join("|") };
  });
}

beforeAll(async () => {
  const hub = await inProcessHub();
  beta = await connectHub({ port: hub.port, identity: generateIdentity("agent-beta"), groups: ["i2i"] });
  beta.onMessage((env) => inbox.push(env));
  bridge = await startI2IBridge({ connect: hubConnector({ port: hub.port }), repoDir: join(tmpDir("i2i-bridge-"), "fleet.git"), agents: ["alice", "bob", "carol"], pollMs: 100 });
  work = tmpDir("i2i-agents-");
  for (const a of ["alice", "bob", "carol"]) execFileSync("git", ["clone", "-q", bridge.urlOf(a)!, join(work, a)]);
});

afterAll(async () => {
  await beta?.close();
  await bridge?.close();
  await cleanup();
});

const fromCommit = (id: string) => () => inbox.some((e) => e.id === id);

describe("I2I agents through the bridge's repository", () => {
  it("delivers a v0.1 request and its reply between I2I agents with commit ids unchanged", async () => {
    const id = send("alice", "[I2I:alice->bob:request:t1] hello bob");
    const bobLog = log("bob");
    expect(bobLog[0]).toEqual({ hash: id, subject: "[I2I:alice->bob:request:t1] hello bob" });
    const reply = send("bob", "[I2I:bob->alice:response:t1] hi alice");
    const aliceLog = log("alice").map((l) => l.hash);
    expect(aliceLog.slice(0, 2)).toEqual([reply, id]);
  });

  it("carries an I2I commit to a Fleet agent (id = commit id, message verbatim) and a broadcast to everyone", async () => {
    const id = send("alice", "[I2I:alice->agent-beta:request:t2] build the thing");
    await until(fromCommit(id), 10_000, "the commit at agent-beta");
    const env = inbox.find((e) => e.id === id)!;
    expect(env.sender).toBe("i2i:alice");
    expect(env.threadId).toBe("t2");
    expect(applicationValue(env)).toMatchObject({ commit: id, format: "v0.1", from: "alice", to: "agent-beta", type: "request", payload: "build the thing", message: "[I2I:alice->agent-beta:request:t2] build the thing\n" });
    const b = send("bob", "[I2I:bob->*:broadcast] all hands");
    await until(fromCommit(b), 10_000, "the broadcast");
  });

  it("carries a heartbeat to * to every agent and the fleet, and a 200-character payload intact", async () => {
    const hb = send("carol", "[I2I:carol->*:heartbeat] alive");
    for (const a of ["alice", "bob"]) expect(log(a)[0]).toEqual({ hash: hb, subject: "[I2I:carol->*:heartbeat] alive" });
    await until(fromCommit(hb), 10_000, "the heartbeat in the fleet");
    // I2IProtocol.send cuts the payload to its first 200 characters; that cut arrives as sent.
    const payload = "ü".repeat(150) + "x".repeat(50);
    const id = send("alice", `[I2I:alice->agent-beta:request] ${payload}`);
    await until(fromCommit(id), 10_000, "the long payload");
    expect((applicationValue(inbox.find((e) => e.id === id)!) as { payload: string }).payload).toBe(payload);
  });

  it("turns a Fleet message into a v0.1 commit the I2I agent receives and answers", async () => {
    await beta.send({ to: "i2i:bob", text: "please review", requiresAck: true });
    let entry: { hash: string; subject: string } | undefined;
    for (let i = 0; i < 50 && !entry; i++) {
      entry = log("bob").find((l) => l.subject === "[I2I:agent_beta->bob:request] please review");
      if (!entry) await new Promise((r) => setTimeout(r, 100));
    }
    expect(entry).toBeDefined();
    expect(parseI2ICommit(entry!.subject)).toMatchObject({ from: "agent_beta", to: "bob", type: "request", payload: "please review" });
    const answer = send("bob", "[I2I:bob->agent_beta:response] reviewed");
    await until(fromCommit(answer), 10_000, "bob's answer at agent-beta");
    expect(inbox.find((e) => e.id === answer)!.sender).toBe("i2i:bob");
  });

  it("carries v1 (with a staged file) and v2 (multi-line body) commits to the i2i group", async () => {
    const dir = join(work, "carol");
    gitIn(dir, "carol", "pull", "-q", "--rebase", "origin", "main");
    writeFileSync(join(dir, "notes.md"), "a note\n");
    gitIn(dir, "carol", "add", "notes.md");
    gitIn(dir, "carol", "commit", "-q", "-m", "[I2I:COMMENT] spec — looks good\n\nDetails here.\n\nCo-Authored-By: carol <carol@i2i.test>");
    gitIn(dir, "carol", "push", "-q", "origin", "HEAD:main");
    const v1 = gitIn(dir, "carol", "rev-parse", "HEAD").trim();
    gitIn(dir, "carol", "commit", "-q", "--allow-empty", "-m", "[I2I:HEARTBEAT:HBT] carol — alive\n\nload: 0.3\nqueue: 2");
    gitIn(dir, "carol", "push", "-q", "origin", "HEAD:main");
    const v2 = gitIn(dir, "carol", "rev-parse", "HEAD").trim();
    await until(() => fromCommit(v1)() && fromCommit(v2)(), 10_000, "both commits in group i2i");
    expect(applicationValue(inbox.find((e) => e.id === v1)!)).toMatchObject({ format: "v1", type: "COMMENT", scope: "spec", summary: "looks good" });
    expect(applicationValue(inbox.find((e) => e.id === v2)!)).toMatchObject({ format: "v2", type: "HEARTBEAT", code: "HBT", body: "load: 0.3\nqueue: 2" });
    expect(log("alice").map((l) => l.hash).slice(0, 2)).toEqual([v2, v1]);
  });
});

describe("refusals", () => {
  it("refuses a v0.1 commit claiming another agent as sender", () => {
    const dir = join(work, "alice");
    gitIn(dir, "alice", "pull", "-q", "--rebase", "origin", "main");
    gitIn(dir, "alice", "commit", "-q", "--allow-empty", "-m", "[I2I:bob->carol:request] forged");
    expect(pushFails(dir, "alice", "push", "origin", "HEAD:main")).toMatch(/claims I2I sender bob but alice pushed it/);
    gitIn(dir, "alice", "reset", "-q", "--hard", "origin/main");
  });

  it("refuses force-pushes and branch deletion: delivered messages stay", () => {
    const before = log("bob").length;
    const dir = join(work, "alice");
    gitIn(dir, "alice", "reset", "-q", "--hard", "HEAD~3");
    gitIn(dir, "alice", "commit", "-q", "--allow-empty", "-m", "[I2I:alice->bob:request] rewritten");
    expect(pushFails(dir, "alice", "push", "--force", "origin", "HEAD:main")).toMatch(/non-fast-forward|rejected/);
    expect(pushFails(dir, "alice", "push", "origin", ":main")).toMatch(/delet/);
    expect(log("bob").length).toBe(before);
    gitIn(dir, "alice", "fetch", "-q", "origin");
    gitIn(dir, "alice", "reset", "-q", "--hard", "origin/main");
  });

  it("refuses pushes that do not come through an agent's URL", () => {
    const dir = join(work, "bob");
    gitIn(dir, "bob", "commit", "-q", "--allow-empty", "-m", "[I2I:bob->alice:request] by path");
    expect(pushFails(dir, "bob", "push", bridge.repoDir, "HEAD:main")).toMatch(/only through an agent's bridge URL/);
    gitIn(dir, "bob", "reset", "-q", "--hard", "origin/main");
  });
});
