// Runs a Python test client (Debian's /usr/bin/python3) that reads one JSON command per
// line and answers one JSON line each; every call is bounded by a timeout.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";

export const PYTHON = "/usr/bin/python3";

export interface PythonDriver {
  call<T = Record<string, unknown>>(cmd: Record<string, unknown>, timeoutMs?: number): Promise<T & { ok: boolean; error?: string }>;
  stop(): Promise<void>;
  stderr(): string;
}

export function startPythonDriver(script: string, args: string[], env: NodeJS.ProcessEnv = {}): PythonDriver {
  const child: ChildProcessWithoutNullStreams = spawn(PYTHON, [script, ...args], { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  let buf = "";
  let err = "";
  const waiting: ((line: string) => void)[] = [];
  const lines: string[] = [];
  child.stdout.on("data", (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiting.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  child.stderr.on("data", (d) => (err += d));
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  return {
    call(cmd, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`python driver: no answer to ${JSON.stringify(cmd).slice(0, 200)}; stderr: ${err}`)), timeoutMs);
        const take = (line: string) => {
          clearTimeout(timer);
          resolve(JSON.parse(line));
        };
        const ready = lines.shift();
        if (ready !== undefined) take(ready);
        else waiting.push(take);
        child.stdin.write(JSON.stringify(cmd) + "\n");
      });
    },
    async stop() {
      child.stdin.end();
      const t = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(t);
    },
    stderr: () => err,
  };
}
