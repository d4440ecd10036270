// Marks envelope objects that came out of a successful verification, so actions that
// change trust (key rotation) can refuse envelopes that were merely constructed or parsed.
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";

const verified = new WeakSet<Envelope>();

export function markVerified(env: Envelope): Envelope {
  verified.add(env);
  return env;
}

export function isVerifiedEnvelope(env: Envelope): boolean {
  return verified.has(env);
}
