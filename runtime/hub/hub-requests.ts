// Messages addressed to the hub itself ("fleet:hub"): delivery acknowledgements, registry
// queries and self-registration, bottles, key rotations, pings, and small admin queries (status, bottle
// status) carried as application JSON {"op": ...} in a QUERY.
import { create } from "@bufbuild/protobuf";
import { AgentRecordSchema, type RegistryDelta } from "../../generated/proto/fleet/v1/registry_pb.js";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ApplicationPayloadSchema } from "../../generated/proto/fleet/v1/payload_pb.js";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { PING_MEDIA_TYPE } from "../client/bodies.js";
import { applicationValue } from "../client/draft.js";
import { StaticKeys } from "../crypto/index.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import { limitRegistryAnswer } from "../protocol/registry-answer.js";
import { verifyRegistryOwner } from "../protocol/registry-owner.js";
import type { Hub } from "./hub.js";
import type { Incoming } from "./peer.js";
import { groupOp } from "./group-ops.js";
import { revokeKey, rotateKey } from "./rotation.js";

/** Media type of hub admin queries and answers (application JSON with an "op"). */
export { HUB_OP_MEDIA_TYPE } from "../client/history.js";
import { HUB_OP_MEDIA_TYPE } from "../client/history.js";

export function handleHubRequest(hub: Hub, msg: Incoming): void {
  const { peer, env } = msg;
  const kind = env.body?.kind;
  if (kind?.case !== "heartbeat") peer.active = true;
  try {
    switch (kind?.case) {
      case "heartbeat":
        return; // liveness is any frame; nothing to answer
      case "receipt":
        hub.acknowledged(peer.agent, kind.value.messageId);
        hub.bottles.acknowledged(peer.agent, kind.value.messageId);
        return;
      case "registryQuery":
        // Admissions that completed before this query are written (and visible) first.
        if (hub.admissions.size) hub.admissions.flush();
        hub.reply(peer, {
          type: MessageType.RESPONSE,
          inReplyTo: env.id,
          // One answer is bounded (256 agents, 256 KiB); the asker pages with after_agent_id.
          body: { case: "registryQueryResult", value: limitRegistryAnswer(hub.registry.query(kind.value, (a) => hub.isOnline(a))) },
        });
        return;
      case "registryDelta":
        selfRegister(hub, peer.agent, peer.keyId, peer.publicKey, kind.value);
        if (env.requiresAck) hub.receipt(peer, env, ReceiptStatus.ACCEPTED);
        hub.bottles.evaluateSoon();
        return;
      case "bottle":
        hub.bottles.accept(msg, kind.value);
        return;
      case "keyRotation":
        rotateKey(hub, msg);
        return;
      case "keyRevocation":
        revokeKey(hub, msg);
        return;
      case "application":
        answerOp(hub, msg);
        return;
      default:
        throw new FleetError(ErrorCode.CAPABILITY_NOT_SUPPORTED, `the hub does not handle ${kind?.case ?? "an empty body"}`, { pointer: "/body" });
    }
  } catch (e) {
    hub.reject(peer, env, asFleetError(e, ErrorCode.INTERNAL_ERROR, "hub request"));
  }
}

/**
 * An agent may describe itself (role, capabilities, groups, endpoints, versions) but only
 * itself: each entry must be its own, signed by the connection's key as owner
 * (spec/registry.md "Owners"; 603/601/607 otherwise), and the key fields always come from
 * the authenticated connection.
 */
function selfRegister(hub: Hub, agent: string, keyId: string, publicKey: Uint8Array, delta: RegistryDelta): void {
  const owner = new StaticKeys([{ agent, publicKey }]);
  for (const [i, e] of delta.entries.entries()) {
    if (e.key !== `agent/${agent}` || e.record.case !== "agent" || e.record.value.agentId !== agent) {
      throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `${agent} may only register agent/${agent}`, { pointer: `/body/registryDelta/entries/${i}` });
    }
    verifyRegistryOwner(e, owner, `/body/registryDelta/entries/${i}`);
    const r = e.record.value;
    // A granted capability is offered only with a valid grant bound to the connection's key (603).
    r.capabilities.forEach((c, j) => hub.grants.checkOffer(c, { agent, keyId }, `/body/registryDelta/entries/${i}/record/agent/capabilities/${j}`));
    hub.registry.putAgent(create(AgentRecordSchema, { ...r, agentId: agent, keyId, publicKey }));
  }
}

function answerOp(hub: Hub, msg: Incoming): void {
  const { peer, env } = msg;
  const app = env.body?.kind.case === "application" ? env.body.kind.value : undefined;
  const value = applicationValue(env) as { op?: string; bottle_id?: string; origin?: string; thread_id?: string; limit?: number; before?: number; group?: string; statement?: string } | undefined;
  const answer = (json: unknown, mediaType = HUB_OP_MEDIA_TYPE) =>
    hub.reply(peer, { type: MessageType.RESPONSE, inReplyTo: env.id, correlationId: env.correlationId, body: { case: "application", value: create(ApplicationPayloadSchema, { mediaType, content: { case: "json", value: JSON.stringify(json) } }) } });
  if (app?.mediaType === PING_MEDIA_TYPE) return answer({ pong: true, from: hub.agent, at: hub.clock.now() }, PING_MEDIA_TYPE);
  switch (value?.op) {
    case "status":
      return answer(hub.stats());
    case "bottle.status": {
      // A bottle is named by (origin, bottle_id); without an origin the asker's own, else the one addressed to the asker.
      const status = hub.bottles.status(String(value.bottle_id ?? ""), peer.agent, value.origin === undefined ? undefined : String(value.origin));
      return answer(status);
    }
    case "group.append":
    case "group.chain":
      return answer(groupOp(hub, value));
    // Threads and history (history.ts, spec/history.md): always the asking agent's own view.
    // Answered when the history's writer thread answers (history-client.ts).
    case "threads":
      return void hub.history.threads(peer.agent, Number(value.limit ?? 50)).then(
        (threads) => answer({ agent: peer.agent, threads }),
        (e) => hub.reject(peer, env, asFleetError(e, ErrorCode.INTERNAL_ERROR, "threads")),
      );
    case "thread": {
      if (typeof value.thread_id !== "string" || !value.thread_id) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "thread_id is required", { pointer: "/thread_id" });
      const before = value.before === undefined ? undefined : Number(value.before);
      return void hub.history.thread(peer.agent, value.thread_id, { limit: Number(value.limit ?? 200), before }).then(
        (t) => answer({ agent: peer.agent, ...t }),
        (e) => hub.reject(peer, env, asFleetError(e, ErrorCode.INTERNAL_ERROR, "thread")),
      );
    }
    default:
      throw new FleetError(ErrorCode.CAPABILITY_NOT_SUPPORTED, `unknown hub op ${JSON.stringify(value?.op ?? null)}`, { pointer: "/body/application" });
  }
}
