// Shared pieces of the two handshake state machines (spec/handshake.md): the step type,
// the established session, verification of handshake envelopes, and error mapping.
import type { Capability, CapabilitySet } from "../../generated/proto/fleet/v1/capabilities_pb.js";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import type { HeartbeatParams } from "../../generated/proto/fleet/v1/handshake_pb.js";
import type { SignedEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import type { Clock } from "../clock.js";
import { MAX_FRAME_BYTES } from "../codec/frame.js";
import { constantTimeEqual, type Identity, type KeyResolver, type Session } from "../crypto/index.js";
import type { TicketState } from "../crypto/resumption.js";
import { ErrorCode, FleetError } from "../errors.js";
import { openSelfCertified, openSelfCertifiedAsync } from "./verify.js";

export const HANDSHAKE_NONCE_BYTES = 32;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
export const DEFAULT_HANDSHAKE_RETRIES = 3;
/** First retry delay; doubles each time (the original's "101: retry after 2 s, 3 times"). */
export const DEFAULT_HANDSHAKE_BACKOFF_MS = 2_000;

export interface HandshakeStep {
  /** Send this to the peer. */
  send?: SignedEnvelope;
  /** The handshake finished: use this session. */
  established?: EstablishedSession;
  /** What went wrong; check the machine's `state` to tell a fatal failure from ignored input. */
  error?: FleetError;
}

export interface EstablishedSession {
  sessionId: string;
  /** The peer's agent name. */
  peer: string;
  peerKeyId: string;
  peerPublicKey: Uint8Array;
  version: string;
  sharedCapabilities: Capability[];
  heartbeat: HeartbeatParams;
  maxFrameBytes: number;
  session: Session;
  /** 402 notices for optional capabilities the peer lacks. */
  notices: FleetError[];
  /** This handshake was authenticated with a resumption ticket's PSK (spec/handshake.md "Resumption"). */
  resumed?: boolean;
  /** Initiator side: the ticket the responder issued in this Welcome, for the next handshake. */
  ticket?: HeldTicket;
}

/**
 * A resumption ticket an initiator holds for one responder: the opaque ticket, the PSK both
 * derived, and the responder it is good for. Secret (the PSK): kept in memory, never logged.
 */
export interface HeldTicket {
  responder: string;
  responderPublicKey: Uint8Array;
  ticket: Uint8Array;
  psk: Uint8Array;
  /** Local clock, Unix ms: the Welcome's arrival plus the lifetime the responder gave. */
  expiresAtMs: number;
}

/** A responder's ticket policy: seal new tickets and open presented ones (runtime/hub/tickets.ts). */
export interface ResponderTickets {
  /** A ticket for this agent's key and PSK, or undefined to issue none. */
  issue(agent: string, identityPublicKey: Uint8Array, psk: Uint8Array): { ticket: Uint8Array; lifetimeSeconds: number } | undefined;
  /** Opens a presented ticket; 104 (pointer /signature/keyId) when it is not good. */
  open(ticket: Uint8Array): TicketState;
}

export type HandshakeState = "idle" | "awaiting-welcome" | "awaiting-hello" | "awaiting-confirm" | "established" | "failed";

export interface HandshakeCommon {
  identity: Identity;
  keys: KeyResolver;
  clock: Clock;
  versions?: string[];
  capabilities?: CapabilitySet;
  heartbeat?: HeartbeatParams;
  /** Largest frame this side accepts (0 or absent: the protocol maximum). */
  maxFrameBytes?: number;
}

/** Signature, key-possession and binding failures of a handshake step are 104. */
export function authFailure(e: unknown): FleetError {
  if (e instanceof FleetError) {
    const auth = [ErrorCode.SECURITY_SIGNATURE_INVALID, ErrorCode.SECURITY_KEY_MISMATCH, ErrorCode.SECURITY_MALFORMED_KEY, ErrorCode.SECURITY_UNAUTHORIZED].includes(e.code);
    return auth ? new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, `handshake authentication failed: ${e.message}`, { pointer: e.pointer, cause: e }) : e;
  }
  return new FleetError(ErrorCode.INTERNAL_ERROR, String(e));
}

const introducedKey = (env: Envelope): Uint8Array | undefined => {
  const k = env.body?.kind;
  return k?.case === "hello" || k?.case === "welcome" || k?.case === "helloReject" ? k.value.identityPublicKey : undefined;
};

/** Verifies a handshake envelope (the signer may introduce its key in the body); 104 on failure. */
export function openHandshake(signed: SignedEnvelope, keys: KeyResolver, clock: Clock, deferBinding = false): Envelope {
  try {
    return checkPossession(openSelfCertified(signed, keys, introducedKey, clock, deferBinding), keys);
  } catch (e) {
    throw authFailure(e);
  }
}

/** openHandshake with the async verifier (WebCrypto Ed25519 in browsers). */
export async function openHandshakeAsync(signed: SignedEnvelope, keys: KeyResolver, clock: Clock, deferBinding = false): Promise<Envelope> {
  try {
    return checkPossession(await openSelfCertifiedAsync(signed, keys, introducedKey, clock, deferBinding), keys);
  } catch (e) {
    throw authFailure(e);
  }
}

// The body's identity key must be the key that signed (possession, not just a claim).
function checkPossession(env: Envelope, keys: KeyResolver): Envelope {
  const key = introducedKey(env);
  const known = keys.resolve(env.security!.keyId);
  if (key && key.length && known && !constantTimeEqual(key, known)) throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, "identity_public_key is not the signing key");
  return env;
}

/** Pins the peer's key when the resolver can (TOFU via PinnedKeys); 104 on a mismatch. */
export function pinPeer(keys: KeyResolver, agent: string, publicKey: Uint8Array): void {
  const pinner = keys as KeyResolver & { pin?: (agent: string, key: Uint8Array) => unknown };
  try {
    if (typeof pinner.pin === "function") pinner.pin(agent, publicKey);
  } catch (e) {
    throw authFailure(e);
  }
}

export function frameLimit(a: number | undefined, b: number | undefined): number {
  return Math.min(a || MAX_FRAME_BYTES, b || MAX_FRAME_BYTES, MAX_FRAME_BYTES);
}

export function requireBytes(value: Uint8Array, length: number, pointer: string): void {
  if (value.length !== length) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `${pointer.split("/").pop()} must be ${length} bytes`, { pointer });
}

/**
 * "The recipient is me" (spec/handshake.md): a handshake step must be addressed to this side's
 * agent name (or, for a Hello to a hub, to `hub`); anything else is 104, state unchanged.
 */
export function requireRecipient(env: Envelope, me: string, hubMayBeNamed: boolean): void {
  const t = env.recipient?.target;
  if (t?.case === "agent" && t.value === me) return;
  if (hubMayBeNamed && t?.case === "hub" && t.value) return;
  throw new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, `handshake step addressed to ${t?.case ?? "nobody"} ${t?.case === "agent" ? t.value : ""}, not to ${me}`.trim(), { pointer: "/recipient" });
}

export function outOfOrder(what: string, state: HandshakeState): HandshakeStep {
  return { error: new FleetError(ErrorCode.HANDSHAKE_REQUIRED, `${what} is out of order in state ${state}`) };
}
