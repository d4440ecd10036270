// The responder's side of the handshake: Hello -> (Welcome | HelloReject), then Confirm.
// One instance per connection. The initiator's key is pinned only after Confirm, which
// signs our fresh nonce: a replayed Hello alone never binds a name. receiveAsync() does the
// same with async crypto (WebCrypto in browsers).
import { create } from "@bufbuild/protobuf";
import { type Envelope, MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ErrorBodySchema } from "../../generated/proto/fleet/v1/errors_pb.js";
import { type Hello, HelloRejectSchema, WelcomeSchema } from "../../generated/proto/fleet/v1/handshake_pb.js";
import { type SignedEnvelope, SignatureScheme } from "../../generated/proto/fleet/v1/signed_pb.js";
import { constantTimeEqual, handshakeTranscript, keyIdFor, randomBytes, type Session, toHex } from "../crypto/index.js";
import { openResumed, resumptionPsk, signResumed, ticketFromKeyId, type TicketState } from "../crypto/resumption.js";
import { ErrorCode, FleetError } from "../errors.js";
import { negotiateMutual } from "./capabilities.js";
import { controlEnvelope } from "./envelope.js";
import {
  authFailure,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  type EstablishedSession,
  frameLimit,
  HANDSHAKE_NONCE_BYTES,
  type HandshakeCommon,
  type HandshakeStep,
  outOfOrder,
  pinPeer,
  requireBytes,
  requireRecipient,
  type ResponderTickets,
} from "./handshake-common.js";
import { agreeStep, ephemeralStep, HandshakeMachine, openStep, sessionFromShared, signStep, type Steps } from "./handshake-machine.js";
import { agreeHeartbeat } from "./heartbeat.js";
import { withIntroducedKey } from "./verify.js";
import { highestCommonVersion } from "./versions.js";

export interface HandshakeResponderOptions extends HandshakeCommon {
  /** Admission policy (tokens, allow lists): throw a FleetError to refuse; the code goes into the HelloReject. */
  admit?: (hello: Hello, senderAgent: string, senderKeyId: string) => void;
  /** How long to wait for the Confirm after the Welcome (default 10 s). */
  timeoutMs?: number;
  /** This responder is a hub: a Hello may address it as `hub` as well as by its agent name. */
  hub?: boolean;
  /** Resumption (spec/handshake.md "Resumption"): issue tickets in Welcomes and accept them in Hellos. */
  tickets?: ResponderTickets;
}

/** A resumed handshake in progress: the ticket presented and its PSK. */
interface Resumed {
  ticket: Uint8Array;
  state: TicketState;
}

interface Pending {
  peer: string;
  peerKeyId: string;
  peerPublicKey: Uint8Array;
  nonce: Uint8Array;
  resumed?: Resumed;
  established: Omit<EstablishedSession, "session"> & { session: Session };
}

export class HandshakeResponder extends HandshakeMachine<HandshakeResponderOptions> {
  private pending: Pending | undefined;

  constructor(opts: HandshakeResponderOptions) {
    super(opts, "awaiting-hello");
  }

  protected *steps(msg: SignedEnvelope): Steps<HandshakeStep> {
    if (this.current === "awaiting-hello") return yield* this.hello(msg);
    if (this.current === "awaiting-confirm") return yield* this.confirm(msg);
    return outOfOrder("a handshake message", this.current);
  }

  private *hello(msg: SignedEnvelope): Steps<HandshakeStep> {
    // A Hello under an HMAC names a resumption ticket: its PSK authenticates it (no Ed25519).
    const resumed = msg?.signature?.scheme === SignatureScheme.HMAC_SHA256 ? this.openTicket(msg) : undefined;
    const env = resumed ? openResumed(msg, resumed.state.psk, "initiator", resumed.ticket, this.opts.clock.now()) : yield* openStep(msg, this.opts.keys, true);
    if (env.body?.kind.case !== "hello") return outOfOrder(env.body?.kind.case ?? "an empty body", this.current);
    const hello = env.body.kind.value;
    requireRecipient(env, this.opts.identity.agent, this.opts.hub === true);
    requireBytes(hello.nonce, HANDSHAKE_NONCE_BYTES, "/body/hello/nonce");
    requireBytes(hello.ephemeralPublicKey, 32, "/body/hello/ephemeralPublicKey");
    requireBytes(hello.identityPublicKey, 32, "/body/hello/identityPublicKey");
    if (resumed) {
      // The ticket was made for this name and key: the Hello may not claim another.
      const st = resumed.state;
      if (st.agent !== env.sender || keyIdFor(st.identityPublicKey) !== env.security?.keyId || !constantTimeEqual(st.identityPublicKey, hello.identityPublicKey)) {
        throw new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, "the ticket was issued to another agent or key", { pointer: "/signature/keyId" });
      }
    }
    const version = highestCommonVersion(this.versions, hello.versions);
    if (!version) return yield* this.reject(env, hello, new FleetError(ErrorCode.HANDSHAKE_VERSION_MISMATCH, `no common version: we speak ${this.versions.join(", ")}, peer ${hello.versions.join(", ") || "none"}`));
    const caps = negotiateMutual(this.capabilities, hello.capabilities);
    if (caps.error) return yield* this.reject(env, hello, caps.error);
    let refused: FleetError | undefined;
    try {
      // A name pinned to another key cannot handshake with this one.
      const bound = this.opts.keys.keyIdOf?.(env.sender);
      // A revoked key is refused first (611), whatever its name is bound to now.
      if (this.opts.keys.revoked?.(env.security!.keyId)) throw new FleetError(ErrorCode.SECURITY_KEY_REVOKED, `${env.security!.keyId} was revoked by its owner`, { pointer: "/security/keyId" });
      if (bound !== undefined && bound !== env.security!.keyId) throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `${env.sender} is pinned to another key`);
      this.opts.admit?.(hello, env.sender, env.security!.keyId);
    } catch (e) {
      const err = authFailure(e);
      refused = err.code === ErrorCode.INTERNAL_ERROR ? new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, "admission refused") : err;
    }
    if (refused) return yield* this.reject(env, hello, refused);
    const eph = yield* ephemeralStep();
    const nonce = randomBytes(HANDSHAKE_NONCE_BYTES);
    const sessionId = toHex(randomBytes(16));
    const shared = yield* agreeStep(eph, hello.ephemeralPublicKey);
    // A new ticket for the next handshake, sealing the PSK this one derives.
    const issued = this.opts.tickets?.issue(env.sender, hello.identityPublicKey, resumptionPsk(shared, hello.nonce, nonce, sessionId));
    const heartbeat = agreeHeartbeat(this.opts.heartbeat, hello.heartbeat);
    const maxFrameBytes = frameLimit(this.opts.maxFrameBytes, hello.maxFrameBytes);
    const welcome = create(WelcomeSchema, {
      version,
      sharedCapabilities: caps.shared,
      initiatorNonce: hello.nonce,
      nonce,
      ephemeralPublicKey: eph.publicKey,
      identityPublicKey: this.opts.identity.publicKey,
      sessionId,
      heartbeat,
      maxFrameBytes: this.opts.maxFrameBytes ?? 0,
      capabilities: this.capabilities,
      resumptionTicket: issued?.ticket,
      resumptionLifetimeSeconds: issued?.lifetimeSeconds ?? 0,
    });
    const welcomeEnv = controlEnvelope({ sender: this.opts.identity.agent, to: { agent: env.sender }, type: MessageType.RESPONSE, body: { case: "welcome", value: welcome }, clock: this.opts.clock, inReplyTo: env.id });
    const send = resumed ? signResumed(welcomeEnv, this.opts.identity.keyId, resumed.state.psk, "responder", resumed.ticket) : yield* signStep(welcomeEnv);
    const transcript = handshakeTranscript({
      initiator: env.sender,
      initiatorKey: hello.identityPublicKey,
      responder: this.opts.identity.agent,
      responderKey: this.opts.identity.publicKey,
      hello: msg.payload,
      welcome: send.payload,
    });
    const session = sessionFromShared("responder", sessionId, shared, transcript);
    shared.fill(0);
    const peerKeyId = env.security!.keyId;
    this.pending = {
      peer: env.sender,
      peerKeyId,
      peerPublicKey: hello.identityPublicKey,
      nonce,
      resumed,
      established: { sessionId, peer: env.sender, peerKeyId, peerPublicKey: hello.identityPublicKey, version, sharedCapabilities: caps.shared, heartbeat, maxFrameBytes, session, notices: caps.notices, resumed: resumed !== undefined },
    };
    this.current = "awaiting-confirm";
    this.timer = this.opts.clock.setTimer(() => {
      this.timer = undefined;
      this.current = "failed";
      this.pending = undefined;
      this.timeoutHandler?.({ error: new FleetError(ErrorCode.HANDSHAKE_TIMEOUT, "no confirm in time") });
    }, this.opts.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS);
    return { send };
  }

  // Refuses a Hello: the machine fails, and the initiator gets a signed HelloReject echoing its nonce.
  private *reject(env: Envelope, hello: Hello, error: FleetError): Steps<HandshakeStep> {
    this.stopTimer();
    this.current = "failed";
    const body = create(HelloRejectSchema, {
      error: create(ErrorBodySchema, { code: error.code, message: error.message, pointer: error.pointer, messageId: env.id }),
      supportedVersions: this.versions,
      initiatorNonce: hello.nonce,
      identityPublicKey: this.opts.identity.publicKey,
    });
    const send = yield* signStep(controlEnvelope({ sender: this.opts.identity.agent, to: { agent: env.sender }, type: MessageType.ERROR, body: { case: "helloReject", value: body }, clock: this.opts.clock, inReplyTo: env.id }));
    return { send, error };
  }

  // The ticket a resumed Hello names, opened (104 when it is not ours, altered or expired).
  private openTicket(msg: SignedEnvelope): Resumed {
    if (!this.opts.tickets) throw new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, "this responder does not resume sessions", { pointer: "/signature/scheme" });
    const ticket = ticketFromKeyId(msg.signature!.keyId);
    return { ticket, state: this.opts.tickets.open(ticket) };
  }

  private *confirm(msg: SignedEnvelope): Steps<HandshakeStep> {
    const p = this.pending!;
    const keys = withIntroducedKey(this.opts.keys, p.peerKeyId, p.peerPublicKey);
    // A resumed handshake's Confirm is under the same PSK as its Hello.
    const env = p.resumed ? openResumed(msg, p.resumed.state.psk, "initiator", p.resumed.ticket, this.opts.clock.now()) : yield* openStep(msg, keys);
    if (env.body?.kind.case !== "handshakeConfirm") return outOfOrder(env.body?.kind.case ?? "an empty body", this.current);
    const c = env.body.kind.value;
    // The sender is my peer (the Hello's sender and key), the recipient is me.
    if (env.sender !== p.peer || env.security!.keyId !== p.peerKeyId) throw new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, "confirm is not from the initiator's key", { pointer: "/sender" });
    requireRecipient(env, this.opts.identity.agent, false);
    if (c.sessionId !== p.established.sessionId) throw new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, "confirm names another session", { pointer: "/body/handshakeConfirm/sessionId" });
    if (!constantTimeEqual(c.responderNonce, p.nonce)) throw new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, "confirm does not echo our nonce", { pointer: "/body/handshakeConfirm/responderNonce" });
    // Key confirmation: the initiator derived the same keys over the same transcript.
    p.established.session.checkPeerFinished(c.finished, "/body/handshakeConfirm/finished");
    pinPeer(this.opts.keys, p.peer, p.peerPublicKey);
    this.stopTimer();
    this.current = "established";
    this.pending = undefined;
    return { established: p.established };
  }
}
