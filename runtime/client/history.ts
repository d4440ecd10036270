// Threads and history from the hub (spec/history.md): hub ops "threads" and "thread" sent as
// QUERY to fleet:hub. The hub answers with the stored packets; each signed one is verified
// here, end to end, before it is handed out (verified: true), and a session one is only as
// good as the hub's word (verified: false).
import { create } from "@bufbuild/protobuf";
import { type Envelope, MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ApplicationPayloadSchema } from "../../generated/proto/fleet/v1/payload_pb.js";
import { decodePacket } from "../codec/index.js";
import { parseEnvelope } from "../crypto/envelope-bytes.js";
import { fromBase64Url } from "../crypto/bytes.js";
import { ErrorCode, FleetError } from "../errors.js";
import type { HubConnection } from "./connection.js";
import { applicationValue } from "./draft.js";

/** Media type of hub admin queries and answers (the same as runtime/hub/hub-requests.ts's). */
export const HUB_OP_MEDIA_TYPE = "application/vnd.fleet.hub-op+json";

export interface ThreadSummary {
  thread_id: string;
  messages: number;
  first_at: number;
  last_at: number;
  participants: string[];
}

export interface ThreadMessage {
  /** The envelope as the sender wrote it (verified when `verified`). */
  env: Envelope;
  /** True: the sender's signature verified here; false: only the hub vouches for it. */
  verified: boolean;
  /** When the hub routed it (ms since the epoch). */
  at: number;
  /** Every agent the hub routed it to. */
  recipients: string[];
  /** Position in the hub's history (pass as `before` to page back). */
  seq: number;
}

/** One hub op: a QUERY to fleet:hub with {"op": ...}; resolves with the answer's JSON. */
export async function hubOp(conn: HubConnection, op: Record<string, unknown>, timeoutMs = 10_000): Promise<unknown> {
  const answer = await conn.request(
    { to: "fleet:hub", type: MessageType.QUERY, sign: false, body: { case: "application", value: create(ApplicationPayloadSchema, { mediaType: HUB_OP_MEDIA_TYPE, content: { case: "json", value: JSON.stringify(op) } }) } },
    timeoutMs,
  );
  return applicationValue(answer);
}

function hubOnly(conn: unknown): HubConnection {
  if (typeof (conn as HubConnection).verifySigned !== "function") throw new FleetError(ErrorCode.CAPABILITY_NOT_SUPPORTED, "threads and history are kept by a hub; this connection is not to a hub");
  return conn as HubConnection;
}

/** The threads this agent took part in, most recent first. */
export async function listThreads(connection: unknown, limit = 50): Promise<ThreadSummary[]> {
  const conn = hubOnly(connection);
  const answer = (await hubOp(conn, { op: "threads", limit })) as { threads?: ThreadSummary[] };
  if (!Array.isArray(answer?.threads)) throw new FleetError(ErrorCode.WIRE_MALFORMED, "the hub answered threads with something else");
  return answer.threads;
}

/** The messages of one thread this agent sent or received, oldest first; each signed one verified. */
export async function readThread(connection: unknown, threadId: string, o: { limit?: number; before?: number } = {}): Promise<{ threadId: string; messages: ThreadMessage[]; more: boolean }> {
  const conn = hubOnly(connection);
  const answer = (await hubOp(conn, { op: "thread", thread_id: threadId, ...o })) as {
    messages?: { seq: number; at: number; signed: boolean; packet?: string; envelope?: string; payload_type?: string; recipients: string[] }[];
    more?: boolean;
  };
  if (!Array.isArray(answer?.messages)) throw new FleetError(ErrorCode.WIRE_MALFORMED, "the hub answered thread with something else");
  const messages: ThreadMessage[] = [];
  for (const m of answer.messages) {
    let env: Envelope;
    let verified = false;
    if (m.signed) {
      const packet = decodePacket(fromBase64Url(String(m.packet ?? "")));
      if (packet.kind.case !== "signed") throw new FleetError(ErrorCode.WIRE_MALFORMED, `history message ${m.seq} is not a signed packet`);
      // Parsed (validated) first; replaced by the verified envelope only when its signature
      // verifies. One that does not (e.g. signed by a key since rotated away) is shown as
      // not verified, never as if it were.
      env = parseEnvelope(packet.kind.value.payload, packet.kind.value.payloadType);
      try {
        env = await conn.verifySigned(packet.kind.value);
        verified = true;
      } catch {
        verified = false;
      }
    } else {
      env = parseEnvelope(fromBase64Url(String(m.envelope ?? "")), String(m.payload_type ?? ""));
    }
    messages.push({ env, verified, at: Number(m.at), recipients: Array.isArray(m.recipients) ? m.recipients.map(String) : [], seq: Number(m.seq) });
  }
  return { threadId, messages, more: Boolean(answer.more) };
}
