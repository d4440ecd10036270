// Handlers that wake on messages (`fleet serve`, and the library's AgentServer): each arriving
// application message (or bottle letter) is claimed in the at-most-once ledger (ledger.ts),
// queued (bounded), and handed to the handler by at most `concurrency` workers, each run
// bounded by `timeoutMs`. The outcome becomes what the sender sees (spec/history.md,
// "Handler receipts"):
//   processed, a REQUEST or QUERY, and a JSON response  -> a RESPONSE carrying it
//   processed otherwise                                 -> Receipt PROCESSED
//   failed (exit code N)                                -> Receipt FAILED, exit_code N
//   timed out                                           -> Receipt TIMED_OUT
//   queue full                                          -> Receipt REJECTED 804 (not claimed)
// Answers (RESPONSE, ERROR, STATUS) are handed over too but never answered with a receipt,
// so two served agents cannot answer each other forever.
// After a restart: claimed messages that never started run now (they were not handed over
// yet); ones whose handler was running when the process stopped are reported to their
// sender as FAILED ("interrupted by a restart") and never retried.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Envelope, EnvelopeSchema, MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ReceiptSchema, ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import type { FleetConnection } from "../client/connection.js";
import { redactText } from "../crypto/redact.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import { Ledger, LedgerState } from "./ledger.js";
import { type MessageView, presentMessage } from "./present.js";

export interface HandlerInput {
  env: Envelope;
  verified: boolean;
  /** The message as JSON-ready fields (presentMessage, not redacted: it is the agent's own message). */
  view: MessageView;
  /** The serving agent. */
  agent: string;
}

export interface HandlerOutcome {
  status: "processed" | "failed" | "timed_out";
  /** For processed requests: the JSON answer. */
  response?: unknown;
  exitCode?: number;
  detail?: string;
  stdout?: string;
}

/** Runs one message; must stop when signal aborts (the timeout). */
export type AgentHandler = (input: HandlerInput, signal: AbortSignal) => Promise<HandlerOutcome>;

export interface AgentServerOptions {
  conn: FleetConnection;
  handler: AgentHandler;
  ledger: Ledger;
  /** Handlers running at once (default 4, at most 64). */
  concurrency?: number;
  /** Per-message timeout (default 30,000 ms). */
  timeoutMs?: number;
  /** Claimed messages waiting for a worker (default 256); beyond it messages are refused with 804. */
  queueMax?: number;
  /** One redacted line per notable event. */
  log?: (line: string) => void;
  /** Every finished message (tests, the CLI's --json events). */
  onOutcome?: (view: MessageView, outcome: HandlerOutcome) => void;
}

interface Job {
  env: Envelope;
  verified: boolean;
}

const ANSWERS = new Set([MessageType.RESPONSE, MessageType.ERROR, MessageType.STATUS]);

export class AgentServer {
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly queueMax: number;
  private readonly queue: Job[] = [];
  private running = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private off?: () => void;
  private stopped = false;
  private readonly log: (line: string) => void;
  readonly counters = { processed: 0, failed: 0, timedOut: 0, duplicates: 0, refused: 0, ignored: 0 };

  constructor(private readonly o: AgentServerOptions) {
    this.concurrency = o.concurrency ?? 4;
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.queueMax = o.queueMax ?? 256;
    if (!(Number.isInteger(this.concurrency) && this.concurrency >= 1 && this.concurrency <= 64)) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "concurrency must be a whole number from 1 to 64");
    if (!(this.timeoutMs >= 1)) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "timeoutMs must be positive");
    if (!(Number.isInteger(this.queueMax) && this.queueMax >= 1)) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "queueMax must be at least 1");
    this.log = (line) => o.log?.(redactText(line));
  }

  get agent(): string {
    return this.o.conn.agent;
  }

  /** Recovers what a previous run left, then takes messages. */
  async start(): Promise<{ resumed: number; reported: number }> {
    const { ledger } = this.o;
    let reported = 0;
    for (const row of ledger.inState(LedgerState.RUNNING)) {
      const env = fromBinary(EnvelopeSchema, row.envelope);
      const outcome: HandlerOutcome = { status: "failed", exitCode: 0, detail: "interrupted by a restart of fleet serve; not retried (at most once)" };
      await this.answer(env, outcome);
      ledger.finish(row.sender, row.id, outcome, LedgerState.REPORTED);
      this.log(`reported ${row.id} from ${row.sender}: its handler was interrupted by a restart`);
      reported++;
    }
    const resumed = ledger.inState(LedgerState.QUEUED);
    for (const row of resumed) this.queue.push({ env: fromBinary(EnvelopeSchema, row.envelope), verified: row.verified });
    this.off = this.o.conn.onMessage((env, meta) => this.arrive(env, meta.verified));
    this.pump();
    return { resumed: resumed.length, reported };
  }

  /** Stops taking messages and waits for running handlers (bounded by their timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.off?.();
    await Promise.allSettled([...this.inFlight]);
  }

  get queued(): number {
    return this.queue.length;
  }

  get active(): number {
    return this.running;
  }

  private arrive(env: Envelope, verified: boolean): void {
    if (this.stopped) return;
    const kind = env.body?.kind.case;
    if (kind !== "application" && kind !== "bottleLetter") {
      this.counters.ignored++;
      return;
    }
    if (this.queue.length >= this.queueMax) {
      this.counters.refused++;
      this.log(`refused ${env.id} from ${env.sender}: ${this.queueMax} messages already waiting`);
      if (!ANSWERS.has(env.type)) void this.send(env, { status: ReceiptStatus.REJECTED, code: ErrorCode.DELIVERY_BUSY, detail: "handlers busy; send again later (with a new id)", retryAfterMs: 1_000 });
      return;
    }
    let claimed: boolean;
    try {
      claimed = this.o.ledger.claim(env.sender, env.id, toBinary(EnvelopeSchema, env), verified);
    } catch (e) {
      this.log(`cannot claim ${env.id}: ${asFleetError(e, ErrorCode.DELIVERY_STORE_FAILED, "ledger").message}`);
      return; // not claimed: not handed over (at most once wins over at least once)
    }
    if (!claimed) {
      this.counters.duplicates++;
      this.log(`skipped ${env.id} from ${env.sender}: already handed over once`);
      return;
    }
    this.queue.push({ env, verified });
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.running < this.concurrency && this.queue.length) {
      const job = this.queue.shift()!;
      this.running++;
      const p = this.run(job).finally(() => {
        this.running--;
        this.inFlight.delete(p);
        this.pump();
      });
      this.inFlight.add(p);
    }
  }

  private async run(job: Job): Promise<void> {
    const { env, verified } = job;
    const { ledger } = this.o;
    ledger.running(env.sender, env.id);
    const view = presentMessage(env, verified, { redact: false });
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<HandlerOutcome>((resolve) => {
      timer = setTimeout(() => {
        abort.abort();
        resolve({ status: "timed_out", detail: `no result within ${this.timeoutMs} ms; stopped` });
      }, this.timeoutMs);
    });
    const handled = this.o.handler({ env, verified, view, agent: this.agent }, abort.signal).catch(
      (e): HandlerOutcome => ({ status: "failed", exitCode: 0, detail: asFleetError(e, ErrorCode.INTERNAL_ERROR, "handler").message }),
    );
    const outcome = await Promise.race([handled, timedOut]);
    clearTimeout(timer);
    if (outcome.status === "processed") this.counters.processed++;
    else if (outcome.status === "failed") this.counters.failed++;
    else this.counters.timedOut++;
    ledger.finish(env.sender, env.id, { status: outcome.status, exitCode: outcome.exitCode, detail: outcome.detail });
    this.log(`${env.id} from ${env.sender}: ${outcome.status}${outcome.exitCode ? ` (exit code ${outcome.exitCode})` : ""}`);
    await this.answer(env, outcome);
    this.o.onOutcome?.(view, outcome);
    // A timed-out handler still holds its worker until it has really stopped.
    if (outcome.status === "timed_out") await handled;
  }

  /** What the sender sees (see the file comment). */
  private async answer(env: Envelope, outcome: HandlerOutcome): Promise<void> {
    if (ANSWERS.has(env.type)) return;
    const asksAnswer = env.type === MessageType.REQUEST || env.type === MessageType.QUERY;
    if (outcome.status === "processed" && asksAnswer && outcome.response !== undefined) {
      await this.deliver(env, { type: MessageType.RESPONSE, json: outcome.response });
      return;
    }
    const status = outcome.status === "processed" ? ReceiptStatus.PROCESSED : outcome.status === "failed" ? ReceiptStatus.FAILED : ReceiptStatus.TIMED_OUT;
    await this.send(env, { status, exitCode: outcome.exitCode ?? 0, detail: outcome.detail ?? "" });
  }

  private send(env: Envelope, r: { status: ReceiptStatus; code?: ErrorCode; detail?: string; exitCode?: number; retryAfterMs?: number }): Promise<void> {
    const receipt = create(ReceiptSchema, { messageId: env.id, status: r.status, code: r.code ?? 0, detail: r.detail ?? "", exitCode: r.exitCode ?? 0, retryAfterMs: r.retryAfterMs ?? 0 });
    const asksAnswer = env.type === MessageType.REQUEST || env.type === MessageType.QUERY;
    return this.deliver(env, { type: asksAnswer ? MessageType.RESPONSE : MessageType.STATUS, body: { case: "receipt", value: receipt } });
  }

  private async deliver(env: Envelope, d: { type: MessageType; json?: unknown; body?: NonNullable<Envelope["body"]>["kind"] }): Promise<void> {
    try {
      await this.o.conn.send({ to: env.sender, type: d.type, inReplyTo: env.id, threadId: env.threadId || env.id, correlationId: env.correlationId || undefined, requiresAck: true, json: d.json, body: d.body });
    } catch (e) {
      this.log(`could not answer ${env.id} to ${env.sender}: ${asFleetError(e, ErrorCode.INTERNAL_ERROR, "answer").message}`);
    }
  }
}
