// A registry query over NATS request/reply: signed question on fleet.v1.registry.query,
// answered by whichever replica serves it (registry.ts), and the signed answer verified.
import { create } from "@bufbuild/protobuf";
import type { Msg } from "nats";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { RegistryQuerySchema, type RegistryQueryResult } from "../../generated/proto/fleet/v1/registry_pb.js";
import { errorFromBody } from "../client/bodies.js";
import { buildEnvelope } from "../client/draft.js";
import type { Clock } from "../clock.js";
import { signEnvelope, type Identity } from "../crypto/index.js";
import { ErrorCode, FleetError } from "../errors.js";
import type { NatsCarrier } from "./carrier.js";
import { packetOf } from "./routes.js";
import { subjects } from "./subjects.js";
import type { SignedVerifier } from "./verify.js";
import { announcedPublicKey, fromWire, toWire } from "./wire.js";

export interface RegistryQueryHost {
  identity: Identity;
  clock: Clock;
  carrier: NatsCarrier;
  verifier: SignedVerifier;
}

export type RegistryQueryInput = { capability?: string; agentId?: string; onlineOnly?: boolean; afterAgentId?: string };

/** Asks the registry and verifies the signed answer; 805 when nobody answers in time. */
export async function queryRegistry(host: RegistryQueryHost, q: RegistryQueryInput, timeoutMs: number): Promise<RegistryQueryResult> {
  const env = buildEnvelope({ to: "fleet:hub", type: MessageType.QUERY, body: { case: "registryQuery", value: create(RegistryQuerySchema, q) } }, host.identity.agent, host.clock);
  const w = toWire(packetOf(signEnvelope(env, host.identity)), { publicKey: host.identity.publicKey });
  let reply: Msg;
  try {
    reply = await host.carrier.nc.request(subjects.registryQuery(), w.data, { headers: w.headers, timeout: timeoutMs });
  } catch (e) {
    throw new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `no registry answered within ${timeoutMs} ms`, { cause: e });
  }
  const packet = fromWire(reply.data, reply.headers);
  if (packet.kind.case !== "signed") throw new FleetError(ErrorCode.HANDSHAKE_REQUIRED, "registry answer is not signed");
  const answer = host.verifier.open(packet.kind.value, announcedPublicKey(reply.headers));
  const body = answer.body?.kind;
  if (answer.inReplyTo !== env.id || body?.case !== "registryQueryResult") {
    throw (body && errorFromBody(body)) ?? new FleetError(ErrorCode.WIRE_MALFORMED, "registry answered with something else");
  }
  return body.value;
}
