// One `git daemon` per I2I agent, all serving the bridge's single repository: the agent's
// URL (git://host:port/<secret token>.git) is its credential, and the daemon tells the
// pre-receive hook who pushes (I2I_BRIDGE_AGENT). git daemon cannot tell users apart on
// one port, hence one per agent.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { randomBytes, toHex } from "../../crypto/index.js";
import { ErrorCode, FleetError } from "../../errors.js";

export interface AgentDaemon {
  agent: string;
  url: string;
  stop(): Promise<void>;
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function launch(args: string[], env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", ["daemon", ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    const timer = setTimeout(() => resolve(child), 400);
    child.stderr!.on("data", (d) => (err += d));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new FleetError(ErrorCode.INTERNAL_ERROR, `git daemon exited (${code}): ${err.trim().slice(0, 200)}`));
    });
  });
}

/** Starts the daemon for agent over repoDir (a bare repository) under stateDir/agents/<agent>/. */
export async function startAgentDaemon(o: { agent: string; repoDir: string; stateDir: string; host?: string; token?: string }): Promise<AgentDaemon> {
  const host = o.host ?? "127.0.0.1";
  const base = join(o.stateDir, "agents", toHex(new TextEncoder().encode(o.agent)));
  mkdirSync(base, { recursive: true, mode: 0o700 });
  const token = o.token ?? toHex(randomBytes(16));
  const link = join(base, `${token}.git`);
  if (!existsSync(link)) symlinkSync(o.repoDir, link);
  let child: ChildProcess | undefined;
  let port = 0;
  for (let attempt = 0; !child; attempt++) {
    port = await freePort(host);
    try {
      child = await launch([`--listen=${host}`, `--port=${port}`, `--base-path=${base}`, "--export-all", "--enable=receive-pack", "--informative-errors", "--reuseaddr", base], { I2I_BRIDGE_AGENT: o.agent });
    } catch (e) {
      if (attempt >= 3) throw e;
    }
  }
  const running = child;
  return {
    agent: o.agent,
    url: `git://${host}:${port}/${token}.git`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (running.exitCode !== null || running.signalCode !== null) return resolve();
        running.once("exit", () => resolve());
        running.kill("SIGTERM");
      }),
  };
}
