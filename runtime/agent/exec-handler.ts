// `fleet serve --exec CMD`: one process per message. CMD is the operator's own command line,
// run as `/bin/sh -c CMD`; the message never touches that command line: its JSON goes to
// stdin, and only header fields (ids, names, type, verified) go into FLEET_* environment
// variables, so shell metacharacters in message content never reach a shell. The process
// runs in its own process group; on timeout the whole group is killed (SIGTERM, then SIGKILL
// after KILL_GRACE_MS). Output is bounded: stdout up to MAX_STDOUT bytes (more is a failure),
// stderr's last MAX_STDERR bytes kept for the operator's log (redacted there).
import { spawn } from "node:child_process";
import type { HandlerInput, HandlerOutcome } from "./serve.js";

export const MAX_STDOUT = 1024 * 1024;
export const MAX_STDERR = 64 * 1024;
export const KILL_GRACE_MS = 2_000;

export interface ExecHandlerOptions {
  /** Shell used to run CMD (default /bin/sh). */
  shell?: string;
  /** Extra environment for every run. */
  env?: Record<string, string>;
  /** Receives each run's stderr tail (already bounded; the caller redacts before logging). */
  onStderr?: (messageId: string, text: string) => void;
}

/** The FLEET_* variables a handler process gets: header fields only, never content. */
export function messageEnv(input: HandlerInput, agent: string): Record<string, string> {
  const v = input.view;
  return {
    FLEET_AGENT: agent,
    FLEET_MESSAGE_ID: v.id,
    FLEET_MESSAGE_FROM: v.from,
    FLEET_MESSAGE_TO: v.to,
    FLEET_MESSAGE_TYPE: v.type,
    FLEET_MESSAGE_VERIFIED: v.verified ? "1" : "0",
    FLEET_THREAD_ID: v.thread_id,
    FLEET_IN_REPLY_TO: v.in_reply_to,
    FLEET_CORRELATION_ID: v.correlation_id,
    FLEET_MEDIA_TYPE: v.media_type ?? "",
    FLEET_SENT_AT: v.sent_at,
  };
}

/** A handler running `sh -c CMD` per message (see the file comment). */
export function execHandler(cmd: string, o: ExecHandlerOptions = {}) {
  return (input: HandlerInput, signal: AbortSignal): Promise<HandlerOutcome> =>
    new Promise<HandlerOutcome>((resolve) => {
      const child = spawn(o.shell ?? "/bin/sh", ["-c", cmd], {
        stdio: ["pipe", "pipe", "pipe"],
        detached: true,
        env: { ...process.env, ...o.env, ...messageEnv(input, input.agent) },
      });
      let stdout = Buffer.alloc(0);
      let stderr = "";
      let overflow = false;
      let settled = false;
      let killTimer: NodeJS.Timeout | undefined;
      const killGroup = (sig: NodeJS.Signals) => {
        try {
          if (child.pid) process.kill(-child.pid, sig);
        } catch {
          // already gone
        }
      };
      const onAbort = () => {
        killGroup("SIGTERM");
        killTimer = setTimeout(() => killGroup("SIGKILL"), KILL_GRACE_MS);
        killTimer.unref();
      };
      signal.addEventListener("abort", onAbort, { once: true });
      const done = (out: HandlerOutcome) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        if (killTimer) clearTimeout(killTimer);
        if (stderr) o.onStderr?.(input.view.id, stderr);
        resolve(out);
      };
      child.stdout.on("data", (d: Buffer) => {
        if (stdout.length + d.length > MAX_STDOUT) {
          if (!overflow) {
            overflow = true;
            killGroup("SIGKILL");
          }
          return;
        }
        stdout = Buffer.concat([stdout, d]);
      });
      child.stderr.on("data", (d: Buffer) => {
        stderr = (stderr + d.toString("utf8")).slice(-MAX_STDERR);
      });
      child.stdin.on("error", () => {}); // a handler that does not read stdin is fine
      child.stdin.end(JSON.stringify(input.view) + "\n");
      child.on("error", (e) => done({ status: "failed", exitCode: 0, detail: `could not start the handler: ${e.message}` }));
      child.on("close", (code, sig) => {
        if (signal.aborted) return done({ status: "timed_out", detail: "stopped at the timeout" });
        if (overflow) return done({ status: "failed", exitCode: code ?? 0, detail: `handler wrote more than ${MAX_STDOUT} bytes to stdout` });
        if (sig) return done({ status: "failed", exitCode: 0, detail: `handler was killed by ${sig}` });
        if (code !== 0) return done({ status: "failed", exitCode: code ?? 0, detail: `handler exited with code ${code}` });
        const text = stdout.toString("utf8").trim();
        let response: unknown;
        if (text) {
          try {
            response = JSON.parse(text);
          } catch {
            response = undefined; // not JSON: processed, no response body
          }
        }
        done({ status: "processed", response, stdout: text });
      });
    });
}
