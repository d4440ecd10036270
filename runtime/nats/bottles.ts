// Message-in-a-bottle on NATS. There is no hub to hold a bottle, so JetStream does: the
// origin publishes it (signed, deduped by bottle id) to fleet.v1.bottle.{recipient} in
// FLEET_BOTTLES, and the recipient's durable bottle consumer evaluates its condition
// (spec/bottles.md) with this agent's view of presence and capabilities. Not yet: the
// message is nak'ed and redelivered later, still stored. Due: the origin's letter is handed
// to the application, verified end to end, and the origin gets signed BottleReceipts.
import { create } from "@bufbuild/protobuf";
import type { Bottle } from "../../generated/proto/fleet/v1/bottle_pb.js";
import { type Envelope, MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { buildEnvelope } from "../client/draft.js";
import type { Clock } from "../clock.js";
import { signEnvelope, type Identity, type PinnedKeys } from "../crypto/index.js";
import { ErrorCode, FleetError } from "../errors.js";
import { evaluateCondition, pendingTimes, type ConditionWorld } from "../protocol/bottle-condition.js";
import { bottleKey } from "../protocol/bottle-storage.js";
import { Deduper } from "../protocol/dedupe.js";
import { bottleReceipt, BottleStatus, openBottle, signBottleReceipt } from "../protocol/bottles.js";
import type { NatsCarrier, DurableVerdict } from "./carrier.js";
import { subjects } from "./subjects.js";

/** How often a waiting bottle is looked at again (a not_before due sooner shortens it). */
const RECHECK_MS = 2_000;

export interface BottleHost {
  identity: Identity;
  keys: PinnedKeys;
  clock: Clock;
  carrier: NatsCarrier;
  world: Omit<ConditionWorld, "now">;
  /** Hands the opened letter to the application. */
  deliver(letter: Envelope): Promise<void>;
  /** Bottle ids already handed over (a redelivery after a lost ack is not delivered twice). */
  delivered: Deduper;
}

/** Publishes a bottle for its (agent) recipient; resolves with the stream sequence once stored. */
export async function dropBottle(host: Pick<BottleHost, "identity" | "clock" | "carrier">, bottle: Bottle): Promise<number> {
  const letter = bottle.letter;
  if (!letter) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "bottle without letter", { pointer: "/letter" });
  // Read the recipient from our own letter (we are about to vouch for it with our signature).
  const opened = openBottle(bottle, { resolve: () => host.identity.publicKey, checkBinding: () => {} }, host.clock);
  const to = opened.letter.recipient?.target;
  if (to?.case !== "agent") throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "on NATS a bottle goes to one agent", { pointer: "/letter/recipient" });
  const env = buildEnvelope({ to: "fleet:hub", type: MessageType.COMMAND, ttlSeconds: Math.max(1, Math.ceil((opened.expiresAt - host.clock.now()) / 1000)), body: { case: "bottle", value: bottle } }, host.identity.agent, host.clock);
  const packet = create(PacketSchema, { kind: { case: "signed", value: signEnvelope(env, host.identity) } });
  // JetStream dedupes by message id: the bottle's identity is (origin, bottle_id), so another
  // origin's bottle with the same id is never mistaken for a duplicate of this one.
  const ack = await host.carrier.publishDurable(subjects.bottle(to.value), packet, bottleKey(opened.origin, opened.letter.bottleId), { publicKey: host.identity.publicKey });
  return ack.seq;
}

/** The recipient side: decides, for one stored bottle, deliver now or look again later. */
export async function collectBottle(host: BottleHost, carrierEnv: Envelope): Promise<void | DurableVerdict> {
  if (carrierEnv.body?.kind.case !== "bottle") throw new FleetError(ErrorCode.WIRE_MALFORMED, "only bottles travel on bottle subjects", { pointer: "/body" });
  const bottle = carrierEnv.body.kind.value;
  const opened = openBottle(bottle, host.keys, host.clock);
  const to = opened.letter.recipient?.target;
  if (to?.case !== "agent" || to.value !== host.identity.agent) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, "bottle for someone else", { pointer: "/letter/recipient" });
  const now = host.clock.now();
  const report = (status: BottleStatus, reason = ErrorCode.UNSPECIFIED, detail = "") => {
    const signed = signBottleReceipt(bottleReceipt(opened.letter.bottleId, status, host.identity.agent, now, reason, detail, opened.origin), opened.origin, host.identity, host.clock);
    host.carrier.publish(subjects.agentReceipts(opened.origin), create(PacketSchema, { kind: { case: "signed", value: signed } }), { publicKey: host.identity.publicKey });
  };
  if (now >= opened.expiresAt) {
    report(BottleStatus.EXPIRED, ErrorCode.DELIVERY_EXPIRED, "ttl ran out while stored");
    return;
  }
  if (!evaluateCondition(opened.letter.condition!, { now, ...host.world })) {
    const due = Math.min(RECHECK_MS, opened.expiresAt - now, ...pendingTimes(opened.letter.condition!, now).map((t) => t - now));
    return { retryInMs: Math.max(50, due) };
  }
  const key = Deduper.key(opened.origin, opened.letter.bottleId);
  if (host.delivered.lookup(key)) return;
  await host.deliver(opened.envelope);
  host.delivered.remember(key);
  report(BottleStatus.ACKNOWLEDGED);
}
