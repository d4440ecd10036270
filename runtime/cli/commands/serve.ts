// `fleet serve --agent NAME --exec 'CMD'`: wake a command for every message (runtime/agent/serve.ts,
// exec-handler.ts); the at-most-once ledger is FLEET_HOME/serve/NAME.db.
import { join } from "node:path";
import { grantsOption } from "./capability.js";
import { execHandler } from "../../agent/exec-handler.js";
import { Ledger, LEDGER_DEFAULT_MAX } from "../../agent/ledger.js";
import { AgentServer } from "../../agent/serve.js";
import { redactText } from "../../crypto/redact.js";
import { ErrorCode, FleetError } from "../../errors.js";
import { type Command, list, str } from "../command.js";
import { connectFor } from "../connect.js";
import { connectionLost } from "../connection-lost.js";
import { ensureHome } from "../home.js";
import { loadIdentity } from "../identities.js";

function whole(v: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `--${name} must be a whole number from ${min} to ${max}`);
  return n;
}

export const serve: Command = {
  name: "serve",
  summary: "run a command for every message to an agent (message JSON on stdin, FLEET_* env vars); its outcome is the sender's receipt",
  usage: "fleet serve --agent NAME --exec 'CMD' [--concurrency N (default 4)] [--timeout-ms MS (default 30000)] [--queue-max N (default 256)] [--ledger-max N (default 100000)] [--capability NAME ...] [--grant GRANT|FILE ...] [--group NAME ...]",
  options: {
    exec: { type: "string" },
    concurrency: { type: "string" },
    "timeout-ms": { type: "string" },
    "queue-max": { type: "string" },
    "ledger-max": { type: "string" },
    capability: { type: "string", multiple: true },
    grant: { type: "string", multiple: true },
    group: { type: "string", multiple: true },
  },
  async run(ctx) {
    const cmd = str(ctx, "exec");
    if (!cmd) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "--exec 'CMD' is required");
    const concurrency = whole(str(ctx, "concurrency"), "concurrency", 4, 1, 64);
    const timeoutMs = whole(str(ctx, "timeout-ms"), "timeout-ms", 30_000, 1, 86_400_000);
    const queueMax = whole(str(ctx, "queue-max"), "queue-max", 256, 1, 100_000);
    const ledgerMax = whole(str(ctx, "ledger-max"), "ledger-max", LEDGER_DEFAULT_MAX, 1, 10_000_000);
    const home = ensureHome(ctx.home);
    const identity = loadIdentity(home, str(ctx, "agent"));
    const ledger = new Ledger(join(home, "serve", `${identity.agent}.db`), ledgerMax);
    try {
      const conn = await connectFor(ctx, { agent: identity.agent, capabilities: list(ctx, "capability"), grants: grantsOption(list(ctx, "grant")), groups: list(ctx, "group") });
      const log = (line: string) => {
        if (ctx.out.json) ctx.out.event({ event: "log", line });
        else process.stderr.write(`fleet serve: ${line}\n`);
      };
      const server = new AgentServer({
        conn,
        ledger,
        concurrency,
        timeoutMs,
        queueMax,
        log,
        handler: execHandler(cmd, { onStderr: (id, text) => log(`handler stderr for ${id}: ${redactText(text.trim()).slice(-2_000)}`) }),
        onOutcome: (view, o) => ctx.out.event({ event: "handled", id: view.id, from: view.from, status: o.status, exit_code: o.exitCode, responded: o.response !== undefined }),
      });
      try {
        const recovered = await server.start();
        ctx.out.line(`fleet serve: ${conn.agent} runs ${JSON.stringify(cmd)} per message (${concurrency} at once, ${timeoutMs} ms each)${recovered.resumed || recovered.reported ? `; after restart: ${recovered.resumed} resumed, ${recovered.reported} reported as interrupted` : ""}`);
        ctx.out.event({ event: "serving", agent: conn.agent, concurrency, timeout_ms: timeoutMs, resumed: recovered.resumed, reported: recovered.reported, pid: process.pid });
        await Promise.race([ctx.interrupted, connectionLost(conn)]);
      } finally {
        await server.stop();
        await conn.close();
      }
      ctx.out.event({ event: "stopped", ...server.counters });
    } finally {
      ledger.close();
    }
  },
};
