// What crosses between keep and the fleet (spec/bridges/keep.md): a keep name X is the
// Fleet agent "keep:X"; a keep packet reaches a Fleet agent as an application payload of
// media type application/vnd.keep.packet+protobuf holding the packet exactly as received
// (original sig and pk, so openKeepPacket checks it end to end); a Fleet message reaches a
// keep client as a keep Packet signed by a key the bridge holds for its Fleet sender.
import { create } from "@bufbuild/protobuf";
import { type Envelope, MessageType } from "../../../generated/proto/fleet/v1/envelope_pb.js";
import { ApplicationPayloadSchema } from "../../../generated/proto/fleet/v1/payload_pb.js";
import type { EnvelopeDraft } from "../../client/draft.js";
import type { Identity } from "../../crypto/index.js";
import { keepPacket, KEEP_TYP_REPLY, KEEP_TYP_REQUEST, signKeepPacket, type KeepPacket } from "./packet.js";

export const KEEP_PACKET_MEDIA_TYPE = "application/vnd.keep.packet+protobuf";
export const KEEP_NAME_PREFIX = "keep:";
/** A keep name must leave room for the prefix inside Fleet's 128-character agent names. */
export const KEEP_NAME_MAX = 128 - KEEP_NAME_PREFIX.length;

export function fleetNameOf(keepName: string): string {
  return KEEP_NAME_PREFIX + keepName;
}

/** Names a keep client may bind: non-empty, short enough, not a bridge keyword or namespace. */
export function isBindableKeepName(name: string): boolean {
  return name.length > 0 && name.length <= KEEP_NAME_MAX && name !== "server" && !/^(keep|fleet|group|capability|discover):/.test(name);
}

const FLEET_ID = /^[\x21-\x7e]{1,64}$/;
const utf8 = new TextDecoder();

/** The Fleet message a verified keep packet becomes (sent by the proxy "keep:<src>"). */
export function draftFromKeep(p: KeepPacket, raw: Uint8Array, to: string): EnvelopeDraft {
  return {
    to,
    id: FLEET_ID.test(p.id) ? p.id : undefined,
    type: MessageType.EVENT,
    requiresAck: true,
    ttlSeconds: p.ttl > 0 ? p.ttl : undefined,
    body: { case: "application", value: create(ApplicationPayloadSchema, { mediaType: KEEP_PACKET_MEDIA_TYPE, content: { case: "data", value: raw.slice() } }) },
  };
}

/** The keep body text of a Fleet message: text as is, JSON as its text, other bytes refused (undefined). */
export function keepBodyOf(env: Envelope): string | undefined {
  const kind = env.body?.kind;
  if (kind?.case !== "application") return undefined;
  const c = kind.value.content;
  if (c.case === "json") return c.value;
  if (c.case === "data" && kind.value.mediaType.startsWith("text/")) return utf8.decode(c.value);
  return undefined;
}

/** The keep packet a Fleet message becomes, signed by signer (the bridge's key for the Fleet sender). */
export function packetFromFleet(env: Envelope, keepDst: string, body: string, signer: Identity): KeepPacket {
  return signKeepPacket(
    keepPacket({
      typ: env.type === MessageType.RESPONSE ? KEEP_TYP_REPLY : KEEP_TYP_REQUEST,
      id: env.id,
      src: env.sender,
      dst: keepDst,
      body,
      ttl: Math.min(env.ttlSeconds, 0xffffffff),
    }),
    signer,
  );
}
