// The registry over NATS: a RegistryReplica (runtime/protocol) converging with every other
// replica through fleet.v1.registry.sync, and answering fleet.v1.registry.query requests.
// Digests go out periodically and on local change; a replica that differs answers a digest
// with a snapshot of the differing buckets (in reply to it); only the digest's owner answers
// that snapshot with a delta, while every other listener merges what it hears. Everything
// travels signed and is verified before the replica sees it, and each entry carries its
// owner's signature, which the replica checks before merging it (spec/registry.md).
import { MessageType, type Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import type { Msg } from "nats";
import { buildEnvelope } from "../client/draft.js";
import { systemClock, type Clock, type TimerId } from "../clock.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import { limitRegistryAnswer } from "../protocol/registry-answer.js";
import type { RegistryMessage, RegistryReplica } from "../protocol/registry.js";
import type { NatsFleetConnection } from "./connection.js";
import { subjects } from "./subjects.js";

export interface RegistrySyncOptions {
  /** Digest period (default 2 s). */
  intervalMs?: number;
  clock?: Clock;
  /** Answer registry queries (queue group "fleet.registry": one replica answers each). Default true. */
  serveQueries?: boolean;
  /** Presence for online_only queries (default: everyone is online). */
  isOnline?: (agentId: string) => boolean;
  onError?: (e: FleetError) => void;
}

const RECENT_DIGESTS = 16;
/** Refusals remembered so that an entry re-sent every round is reported once per version (at the bound the set is emptied). */
export const MAX_REPORTED_REFUSALS = 1024;

export class NatsRegistrySync {
  private timer: TimerId | undefined;
  private readonly clock: Clock;
  private readonly myDigests: string[] = [];
  private readonly stops: (() => void)[] = [];
  private stopped = false;
  private serving = false;
  private readonly reported = new Set<string>();

  constructor(
    private readonly conn: NatsFleetConnection,
    readonly replica: RegistryReplica,
    private readonly opts: RegistrySyncOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
  }

  start(): void {
    this.stops.push(this.conn.listen(subjects.registrySync(), (env) => this.onSync(env)));
    // Entries not written by their owners (or from the future) are dropped one by one and
    // reported; those of owners whose key we have not pinned yet wait for a later round quietly.
    // Anti-entropy repeats a refused entry every round: each version is reported once.
    this.stops.push(
      this.replica.onRefused((r) => {
        if (r.unknownKey) return;
        const v = r.entry.version;
        const id = `${r.entry.key}\u0000${v?.node}\u0000${v?.wallMs}\u0000${v?.logical}\u0000${r.error.code}`;
        if (this.reported.has(id)) return;
        if (this.reported.size >= MAX_REPORTED_REFUSALS) this.reported.clear();
        this.reported.add(id);
        this.opts.onError?.(r.error);
      }),
    );
    if (this.opts.serveQueries !== false) this.serveQueries();
    this.stops.push(this.replica.onChange(() => this.scheduleDigest(0)));
    this.scheduleDigest(0);
  }

  /** Starts answering registry queries (joins the "fleet.registry" queue group). */
  serveQueries(): void {
    if (this.serving || this.stopped) return;
    this.serving = true;
    // Our own agent's queries too: alone on the server, this replica is the registry.
    this.stops.push(this.conn.listen(subjects.registryQuery(), (env, msg) => this.onQuery(env, msg), "fleet.registry", { self: true }));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    for (const s of this.stops.splice(0)) s();
  }

  /** Publishes this replica's digest now. */
  async publishDigest(): Promise<void> {
    const env = await this.publish({ case: "registryDigest", value: this.replica.digest() });
    this.myDigests.push(env.id);
    if (this.myDigests.length > RECENT_DIGESTS) this.myDigests.shift();
  }

  private scheduleDigest(ms: number): void {
    if (this.stopped) return;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      this.publishDigest()
        .catch((e) => this.opts.onError?.(asFleetError(e, ErrorCode.REGISTRY_SYNC_FAILED, "registry digest")))
        .finally(() => this.scheduleDigest(this.opts.intervalMs ?? 2_000));
    }, ms);
  }

  private async onSync(env: Envelope): Promise<void> {
    const body = env.body?.kind;
    if (body?.case !== "registryDigest" && body?.case !== "registrySnapshot" && body?.case !== "registryDelta") return;
    let replies: RegistryMessage[];
    try {
      replies = this.replica.receive(body as RegistryMessage);
    } catch (e) {
      this.opts.onError?.(asFleetError(e, ErrorCode.REGISTRY_SYNC_FAILED, `registry message from ${env.sender}`));
      return;
    }
    // A snapshot answering someone else's digest: merged above, but answering it is its owner's job.
    if (body.case === "registrySnapshot" && !this.myDigests.includes(env.inReplyTo)) return;
    for (const r of replies) await this.publish(r, env.id);
  }

  private onQuery(env: Envelope, msg: Msg): void {
    if (env.body?.kind.case !== "registryQuery" || !msg.reply) return;
    // Answers go to a request inbox only: the asker chose the reply subject, and under the
    // nkey authorization (allow_responses) an answer on, say, fleet.v1.keys.{other} would be
    // published with our rights and stored in FLEET_KEYS (spec/nats-auth.md "Responses").
    if (!msg.reply.startsWith("_INBOX")) {
      this.opts.onError?.(new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `registry query from ${env.sender} asks for its answer on ${msg.reply}, not a request inbox`));
      return;
    }
    const result = limitRegistryAnswer(this.replica.query(env.body.kind.value, this.opts.isOnline));
    const answer = buildEnvelope({ to: env.sender, type: MessageType.RESPONSE, inReplyTo: env.id, ttlSeconds: 60, body: { case: "registryQueryResult", value: result } }, this.conn.agent, this.clock);
    this.conn.reply(msg, answer);
  }

  private async publish(body: RegistryMessage, inReplyTo = ""): Promise<Envelope> {
    const env = buildEnvelope({ to: "fleet:hub", type: MessageType.STATUS, ttlSeconds: 60, inReplyTo, body }, this.conn.agent, this.clock);
    await this.conn.publishEnvelope(env);
    return env;
  }
}
