// For a Fleet recipient of a bridged agentnet message: parse the original envelope (carried
// verbatim as application/vnd.agentnet.envelope+json) and check its dev-ed25519-v1 signature
// end to end with the sender account's key (registry.resolve_key, or the key the bridge
// bound). Throws 601 when the signature or the claims do not match.
import { constantTimeEqual, fromBase64Url } from "../../crypto/index.js";
import { ErrorCode, FleetError } from "../../errors.js";
import { parseJsonLossless, toPlain, type PyJson } from "./canonical-json.js";
import { messageClaims, sameClaims, verifyClaims } from "./dev-auth.js";

export function openAgentnetEnvelope(text: string, publicKey: Uint8Array): Record<string, unknown> & { payload: unknown; message_id: string } {
  const env = parseJsonLossless(text) as Record<string, PyJson>;
  const auth = env?.auth as Record<string, PyJson> | undefined;
  const bad = (why: string) => new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, `agentnet envelope: ${why}`);
  if (!auth || typeof auth.public_key !== "string" || typeof auth.signature !== "string") throw bad("no dev auth");
  const key = fromBase64Url(auth.public_key);
  if (key.length !== publicKey.length || !constantTimeEqual(key, publicKey)) throw bad("signed by another key");
  if (!sameClaims(auth.claims, messageClaims(env, true)) && !sameClaims(auth.claims, messageClaims(env, false))) throw bad("claims do not match the envelope");
  if (!verifyClaims(key, auth.claims, auth.signature)) throw bad("signature does not verify");
  return toPlain(env) as Record<string, unknown> & { payload: unknown; message_id: string };
}
