// Agents in separate processes exchange signed messages through a real nats-server, and
// their registry replicas converge through it (each learns the others only via NATS).
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasNatsServer, natsSkipMessage, startNatsServer, type NatsServerHandle } from "../support/nats-server.js";

if (!hasNatsServer) console.warn(natsSkipMessage);

const script = fileURLToPath(new URL("./support/agent-process.ts", import.meta.url));
const tsx = fileURLToPath(new URL("../../node_modules/.bin/tsx", import.meta.url));

interface Line {
  agent: string;
  event: string;
  [k: string]: unknown;
}

describe.skipIf(!hasNatsServer)("agents in separate processes over NATS", () => {
  let server: NatsServerHandle;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    await server?.stop();
  });

  it("exchange verified messages and converge their registries", async () => {
    const agents = ["proc-a", "proc-b", "proc-c"];
    const count = 5;
    const lines: Line[] = [];
    for (const agent of agents) {
      const child = spawn(tsx, [script, server.url, agent, agents.join(","), String(count)], { stdio: ["pipe", "pipe", "inherit"] });
      children.push(child);
      createInterface({ input: child.stdout! }).on("line", (l) => lines.push(JSON.parse(l) as Line));
    }
    const messagesTo = (agent: string) => lines.filter((l) => l.agent === agent && l.event === "message");
    await expect
      .poll(() => agents.map((a) => messagesTo(a).length), { timeout: 30_000, interval: 200 })
      .toEqual(agents.map(() => count * (agents.length - 1)));
    for (const a of agents) {
      const got = messagesTo(a);
      expect(got.every((l) => l.verified === true)).toBe(true);
      for (const from of agents.filter((x) => x !== a)) {
        expect(got.filter((l) => l.from === from).map((l) => (l.value as { n: number }).n)).toEqual([0, 1, 2, 3, 4]);
      }
    }
    // Every process ends with the same registry: all three agents, the same root hash.
    const latest = () => agents.map((a) => lines.filter((l) => l.agent === a && l.event === "registry").at(-1));
    await expect.poll(() => new Set(latest().map((l) => l?.root)).size, { timeout: 10_000 }).toBe(1);
    expect(latest().map((l) => l?.agents)).toEqual(agents.map(() => agents));
    expect(lines.filter((l) => l.event === "rejected" || l.event === "error")).toEqual([]);

    for (const c of children) c.stdin!.write("quit\n");
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once("exit", r)))));
  }, 60_000);
});
