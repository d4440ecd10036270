// The one error type the runtime throws or returns: every failure carries a protocol
// error code (spec/proto/fleet/v1/errors.proto) so callers and peers can act on it.
import { ErrorCode } from "../generated/proto/fleet/v1/errors_pb.js";

export { ErrorCode };

export class FleetError extends Error {
  override readonly name = "FleetError";
  /** The protocol error code. */
  readonly code: ErrorCode;
  /** JSON pointer (RFC 6901) to the offending field, when there is one. */
  readonly pointer: string;

  constructor(code: ErrorCode, message: string, options: { pointer?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.pointer = options.pointer ?? "";
  }

  /** The code's name without the enum prefix, e.g. "SECURITY_SIGNATURE_INVALID". */
  get codeName(): string {
    return errorCodeName(this.code);
  }
}

/** "SECURITY_SIGNATURE_INVALID" for 601; "UNKNOWN_ERROR" for numbers the enum lacks. */
export function errorCodeName(code: ErrorCode): string {
  const name = ErrorCode[code] as string | undefined;
  return name ? name.replace(/^ERROR_CODE_/, "") : "UNKNOWN_ERROR";
}

export function isFleetError(e: unknown, code?: ErrorCode): e is FleetError {
  return e instanceof FleetError && (code === undefined || e.code === code);
}

/** Wraps anything thrown by a third-party decoder into a FleetError with the given code. */
export function asFleetError(e: unknown, fallback: ErrorCode, context: string): FleetError {
  if (e instanceof FleetError) return e;
  const detail = e instanceof Error ? e.message : String(e);
  return new FleetError(fallback, `${context}: ${detail}`, { cause: e });
}
