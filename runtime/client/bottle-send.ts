// Leaving a bottle with the hub: the letter is signed by the origin (so the recipient can
// verify it end to end whoever carried it) and handed to fleet:hub in a Bottle, with a receipt.
import { create } from "@bufbuild/protobuf";
import { BottleLetterSchema, BottleSchema, type Condition } from "../../generated/proto/fleet/v1/bottle_pb.js";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ApplicationPayloadSchema } from "../../generated/proto/fleet/v1/payload_pb.js";
import { systemClock } from "../clock.js";
import { type Identity, signEnvelope } from "../crypto/index.js";
import { parseRecipient } from "./address.js";
import type { FleetConnection } from "./connection.js";
import { buildEnvelope } from "./draft.js";

export interface BottleDraft {
  to: string;
  /** The payload as JSON text. */
  json: string;
  condition: Condition;
  ttlSeconds: number;
  maxHops?: number;
}

/** Signs the letter as identity and leaves it with the hub; resolves with the bottle id. */
export async function sendBottle(conn: FleetConnection, identity: Identity, d: BottleDraft): Promise<string> {
  const bottleId = globalThis.crypto.randomUUID();
  const letter = create(BottleLetterSchema, { bottleId, recipient: parseRecipient(d.to), condition: d.condition, payload: create(ApplicationPayloadSchema, { mediaType: "application/json", content: { case: "json", value: d.json } }), maxHops: d.maxHops ?? 8 });
  const letterEnv = buildEnvelope({ to: d.to, type: MessageType.EVENT, ttlSeconds: d.ttlSeconds, body: { case: "bottleLetter", value: letter } }, identity.agent, systemClock);
  const signed = signEnvelope(letterEnv, identity);
  await conn.send({ to: "fleet:hub", type: MessageType.COMMAND, requiresAck: true, sign: false, ttlSeconds: 60, body: { case: "bottle", value: create(BottleSchema, { letter: signed }) } });
  return bottleId;
}
