// Bottles held by the hub until their condition holds (spec/bottles.md): the origin's
// signed letter and any earlier relays' postmarks are verified on arrival, the hub is one
// more hop (refused past the letter's max_hops, 807) and adds its own signed postmark, the
// bottle is stored (QUEUED), delivered to the recipient when the condition holds and it is
// online (DELIVERED), and ACKNOWLEDGED by its receipt. State lives in SQLite, so a restart
// resumes exactly where it was.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type Bottle, BottleSchema, BottleStatus, type Condition } from "../../generated/proto/fleet/v1/bottle_pb.js";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { RegistryQuerySchema } from "../../generated/proto/fleet/v1/registry_pb.js";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { openSignedEnvelope } from "../crypto/index.js";
import { stampBottle, verifyPostmarks } from "../protocol/bottle-postmark.js";
import { checkLetterTime, DEFAULT_MAX_HOPS } from "../protocol/bottles.js";
import { bottleKey } from "../protocol/bottle-storage.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { toHex } from "../crypto/index.js";
import { ErrorCode, FleetError } from "../errors.js";
import type { Hub } from "./hub.js";
import { parseSigned as parseSignedLetter } from "./parse-signed.js";
import type { Incoming, Peer } from "./peer.js";
import type { BottleRow } from "./store.js";

const PREFIX = "bottle:";
/** The shortest time between two passes over the held bottles triggered by arrivals (evaluateSoon). */
export const BOTTLE_PASS_INTERVAL_MS = 10;
/** The id of the envelope delivering a bottle: derived from (origin, bottle_id), so two origins' equal ids never share one. */
const deliveryId = (origin: string, bottleId: string) => PREFIX + toHex(sha256(new TextEncoder().encode(bottleKey(origin, bottleId)))).slice(0, 56);

export class BottleKeeper {
  private readonly live = new Map<string, BottleRow & { parsed: Bottle; condition?: Condition; sentTo?: Peer }>();

  constructor(private readonly hub: Hub) {
    for (const status of [BottleStatus.QUEUED, BottleStatus.DELIVERED]) for (const row of hub.store.bottlesWithStatus(status)) this.track(row);
  }

  private track(row: BottleRow): void {
    const parsed = fromBinary(BottleSchema, row.bottle);
    const letterEnv = parseLetter(parsed);
    this.live.set(bottleKey(row.origin, row.bottleId), { ...row, parsed, condition: letterEnv.condition });
  }

  /** A Bottle sent to fleet:hub: verify the origin's letter, store it, answer. */
  accept(msg: Incoming, bottle: Bottle): void {
    const { peer, env } = msg;
    if (!bottle.letter) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "bottle without a letter", { pointer: "/body/bottle/letter" });
    const letterEnv = openSignedEnvelope(bottle.letter, { keys: this.hub.pins });
    if (letterEnv.body?.kind.case !== "bottleLetter") throw new FleetError(ErrorCode.VALIDATION_WRONG_TYPE, "a bottle's letter must carry a BottleLetter", { pointer: "/body/bottle/letter" });
    const letter = letterEnv.body.kind.value;
    // The hub judges the letter by its own clock: one dated in the future is refused (605).
    checkLetterTime(letterEnv, this.hub.clock.now(), this.hub.options.skewMs);
    if (letter.recipient?.target.case !== "agent") throw new FleetError(ErrorCode.CAPABILITY_NOT_SUPPORTED, "the hub holds bottles for single agents only", { pointer: "/body/bottle/letter/recipient" });
    if (!letter.condition?.kind.case) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "bottle letter needs a condition", { pointer: "/body/bottle/letter/condition" });
    verifyPostmarks(bottle, letter.bottleId, this.hub.pins);
    const maxHops = letter.maxHops || DEFAULT_MAX_HOPS;
    if (bottle.postmarks.length + 1 > maxHops) throw new FleetError(ErrorCode.DELIVERY_HOP_LIMIT, `the hub would be hop ${bottle.postmarks.length + 1} of at most ${maxHops}`, { pointer: "/body/bottle/postmarks" });
    const now = this.hub.clock.now();
    this.checkRoom(bottle);
    bottle = stampBottle(bottle, letter.bottleId, this.hub.options.identity, now);
    const row: BottleRow = {
      bottleId: letter.bottleId,
      origin: letterEnv.sender,
      recipient: letter.recipient.target.value,
      bottle: toBinary(BottleSchema, bottle),
      status: BottleStatus.QUEUED,
      reason: 0,
      expiresAt: timestampMs(letterEnv.createdAt!) + letterEnv.ttlSeconds * 1000,
      updatedAt: now,
    };
    const fresh = this.hub.store.putBottle(row);
    if (fresh) this.live.set(bottleKey(row.origin, row.bottleId), { ...row, parsed: bottle, condition: letter.condition });
    if (env.requiresAck) this.hub.receipt(peer, env, ReceiptStatus.ACCEPTED, fresh ? 0 : ErrorCode.DELIVERY_DUPLICATE, fresh ? "" : "duplicate bottle");
    this.evaluate();
  }

  /** 804 when the hub already holds maxHeldBottles bottles or maxHeldBottleBytes of them (HubOptions). */
  private checkRoom(bottle: Bottle): void {
    const { maxHeldBottles, maxHeldBottleBytes } = this.hub.options;
    let bytes = bottle.letter?.payload.length ?? 0;
    for (const b of this.live.values()) bytes += b.bottle.length;
    if (this.live.size >= maxHeldBottles || bytes > maxHeldBottleBytes) {
      throw new FleetError(ErrorCode.DELIVERY_BUSY, `the hub holds as many bottles as it may (${maxHeldBottles}, ${maxHeldBottleBytes} bytes); retry later`);
    }
  }

  private evaluation: ReturnType<typeof setTimeout> | undefined;
  private lastPass = -Infinity;

  /**
   * evaluate() soon, for every agent that arrived (or re-announced itself) meanwhile: at once
   * when the last pass is BOTTLE_PASS_INTERVAL_MS old, else when it will be. A reconnect storm
   * of N agents with B bottles held then costs at most one pass over the B conditions (each
   * capabilityPresent one a registry query) per interval, not N passes; a bottle waits at most
   * one interval longer. Nothing is scheduled while no bottle is held.
   */
  evaluateSoon(): void {
    if (this.evaluation !== undefined || this.live.size === 0) return;
    // Timers may fire a little early against performance.now (libuv's loop time is cached and
    // in whole ms): a pass that would come too soon waits out the rest of the interval.
    const run = () => {
      const left = this.lastPass + BOTTLE_PASS_INTERVAL_MS - performance.now();
      if (left > 0) {
        this.evaluation = setTimeout(run, Math.ceil(left));
        return;
      }
      this.evaluation = undefined;
      this.lastPass = performance.now();
      this.evaluate();
    };
    this.evaluation = setTimeout(run, Math.ceil(Math.max(0, this.lastPass + BOTTLE_PASS_INTERVAL_MS - performance.now())));
  }

  /** The hub is closing: no evaluation after it. */
  stop(): void {
    if (this.evaluation !== undefined) clearTimeout(this.evaluation);
    this.evaluation = undefined;
  }

  /** Delivers every held bottle whose condition holds to its online recipient; expires old ones. */
  evaluate(): void {
    const now = this.hub.clock.now();
    for (const b of this.live.values()) {
      if (now >= b.expiresAt) {
        this.setStatus(b.origin, b.bottleId, BottleStatus.EXPIRED, ErrorCode.DELIVERY_EXPIRED);
        continue;
      }
      const peer = this.hub.peer(b.recipient);
      if (!peer || b.sentTo === peer || !this.holds(b.condition, now)) continue;
      this.hub.reply(peer, { id: deliveryId(b.origin, b.bottleId), type: MessageType.EVENT, requiresAck: true, ttlSeconds: Math.max(1, Math.ceil((b.expiresAt - now) / 1000)), body: { case: "bottle", value: b.parsed } });
      b.sentTo = peer;
      if (b.status !== BottleStatus.DELIVERED) this.setStatus(b.origin, b.bottleId, BottleStatus.DELIVERED, 0, false);
    }
  }

  /** The recipient's receipt for a delivery. */
  acknowledged(agent: string, messageId: string): void {
    if (!messageId.startsWith(PREFIX)) return;
    for (const b of this.live.values()) {
      if (deliveryId(b.origin, b.bottleId) === messageId && b.recipient === agent) this.setStatus(b.origin, b.bottleId, BottleStatus.ACKNOWLEDGED);
    }
  }

  /**
   * A bottle's status for its origin or recipient. Without an origin: the asker's own bottle
   * with that id, else the one bottle with that id addressed to the asker (709 when several
   * origins' bottles match: name the origin).
   */
  status(bottleId: string, asker: string, origin?: string): { bottle_id: string; status: string; reason: number; recipient: string; origin: string; updated_at: string } {
    let row = this.hub.store.getBottle(origin ?? asker, bottleId);
    if (!row && origin === undefined) {
      const mine = this.hub.store.bottlesById(bottleId).filter((r) => r.recipient === asker);
      if (mine.length > 1) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `${mine.length} origins sent you a bottle ${bottleId}: name the origin`, { pointer: "/origin" });
      row = mine[0];
    }
    if (!row) throw new FleetError(ErrorCode.REGISTRY_AGENT_NOT_FOUND, `no bottle ${bottleId}`, { pointer: "/bottle_id" });
    if (asker !== row.origin && asker !== row.recipient) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, "only the origin or recipient may ask");
    return { bottle_id: row.bottleId, status: BottleStatus[row.status], reason: row.reason, recipient: row.recipient, origin: row.origin, updated_at: new Date(row.updatedAt).toISOString() };
  }

  private setStatus(origin: string, bottleId: string, status: BottleStatus, reason = 0, final = true): void {
    try {
      this.hub.store.setBottleStatus(origin, bottleId, status, reason, this.hub.clock.now());
    } catch (e) {
      this.hub.log(`bottle ${bottleId}: ${(e as Error).message}`);
      return;
    }
    const key = bottleKey(origin, bottleId);
    const b = this.live.get(key);
    if (b) b.status = status;
    if (final) this.live.delete(key);
  }

  private holds(c: Condition | undefined, now: number): boolean {
    const k = c?.kind;
    switch (k?.case) {
      case "always":
        return true;
      case "agentOnline":
        return this.hub.isOnline(k.value);
      case "capabilityPresent":
        return this.hub.registry.query(create(RegistryQuerySchema, { capability: k.value, onlineOnly: true }), (a) => this.hub.isOnline(a)).agents.some((a) => this.hub.grants.holds(k.value, a));
      case "notBefore":
        return now >= timestampMs(k.value);
      case "all":
        return k.value.conditions.length > 0 && k.value.conditions.every((x) => this.holds(x, now));
      case "any":
        return k.value.conditions.some((x) => this.holds(x, now));
      default:
        return false;
    }
  }
}

function parseLetter(bottle: Bottle) {
  // Already verified when it was accepted; on reload only the fields are needed.
  const payload = bottle.letter!.payload;
  const env = parseSignedLetter(bottle.letter!.payloadType, payload);
  if (env.body?.kind.case !== "bottleLetter") throw new FleetError(ErrorCode.VALIDATION_WRONG_TYPE, "stored bottle without a letter");
  return env.body.kind.value;
}
