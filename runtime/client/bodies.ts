// Small constructors for the protocol bodies both the hub and clients emit.
import { create } from "@bufbuild/protobuf";
import type { Body } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ErrorBodySchema } from "../../generated/proto/fleet/v1/errors_pb.js";
import { ApplicationPayloadSchema } from "../../generated/proto/fleet/v1/payload_pb.js";
import { ReceiptSchema, ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { ErrorCode, errorCodeName, FleetError } from "../errors.js";

/** Application payload media type of a ping and its answer. */
export const PING_MEDIA_TYPE = "application/vnd.fleet.ping+json";

/** A ping (or its answer) as an application body. */
export function pingBody(payload: unknown = {}): Body["kind"] {
  return { case: "application", value: create(ApplicationPayloadSchema, { mediaType: PING_MEDIA_TYPE, content: { case: "json", value: JSON.stringify(payload) } }) };
}

export function receiptBody(messageId: string, status: ReceiptStatus, code: ErrorCode | 0 = 0, detail = "", retryAfterMs = 0): Body["kind"] {
  return { case: "receipt", value: create(ReceiptSchema, { messageId, status, code, detail, retryAfterMs }) };
}

export function errorBody(code: ErrorCode, message: string, opts: { pointer?: string; messageId?: string } = {}): Body["kind"] {
  return { case: "error", value: create(ErrorBodySchema, { code, message, pointer: opts.pointer ?? "", messageId: opts.messageId ?? "" }) };
}

/** The FleetError an ErrorBody or a REJECTED receipt describes. */
export function errorFromBody(body: Body["kind"]): FleetError | undefined {
  if (body.case === "error") return new FleetError(body.value.code, body.value.message || errorCodeName(body.value.code), { pointer: body.value.pointer });
  if (body.case === "receipt" && body.value.status === ReceiptStatus.REJECTED) {
    return new FleetError(body.value.code, body.value.detail || `${errorCodeName(body.value.code)} for ${body.value.messageId}`);
  }
  // A handler's failure or timeout (fleet serve): the receipt's detail says what happened.
  if (body.case === "receipt" && (body.value.status === ReceiptStatus.FAILED || body.value.status === ReceiptStatus.TIMED_OUT)) {
    const what = body.value.status === ReceiptStatus.FAILED ? `failed${body.value.exitCode ? ` (exit code ${body.value.exitCode})` : ""}` : "timed out";
    return new FleetError(body.value.code || ErrorCode.INTERNAL_ERROR, `handler for ${body.value.messageId} ${what}${body.value.detail ? `: ${body.value.detail}` : ""}`, { cause: body.value });
  }
  return undefined;
}

export { ReceiptStatus };
