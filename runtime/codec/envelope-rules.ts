// Envelope validation: the generated field rules plus the one cross-field rule the proto
// states in prose: exactly one of body and body_ciphertext, and a ciphertext needs its
// encryption header.
import { EnvelopeSchema, type Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ErrorCode, FleetError } from "../errors.js";
import { validateMessage } from "./validate.js";

/** Throws FleetError (706/707/709) with a JSON pointer, e.g. 707 at "/sender". */
export function validateEnvelope(env: Envelope): void {
  if (env === null || typeof env !== "object") throw new FleetError(ErrorCode.VALIDATION_WRONG_TYPE, "expected an Envelope");
  validateMessage(EnvelopeSchema, env);
  if (env.bodyCiphertext.length > 0) {
    if (env.body !== undefined) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "body and bodyCiphertext are mutually exclusive", { pointer: "/body" });
    if (env.security?.encryption === undefined) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "an encrypted body needs security.encryption", { pointer: "/security/encryption" });
  } else if (env.body === undefined) {
    throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "Envelope.body is required (or bodyCiphertext when encrypted)", { pointer: "/body" });
  }
}
