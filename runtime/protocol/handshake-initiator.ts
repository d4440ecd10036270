// The initiator's side of the handshake: Hello -> (Welcome | HelloReject) -> Confirm.
// Pure: start() and receive() return what to send; timeouts come from the injected
// clock and are reported through onTimeout (a fresh Hello after a doubling backoff, or
// 101 after the last retry). startAsync()/receiveAsync() do the same with async crypto
// (WebCrypto in browsers); a machine started with startAsync retries asynchronously too.
import { create } from "@bufbuild/protobuf";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { HelloSchema, HandshakeConfirmSchema, type Welcome } from "../../generated/proto/fleet/v1/handshake_pb.js";
import { type SignedEnvelope, SignatureScheme } from "../../generated/proto/fleet/v1/signed_pb.js";
import { constantTimeEqual, type EphemeralKey, handshakeTranscript, keyIdFor, randomBytes } from "../crypto/index.js";
import { openResumed, resumptionPsk, signResumed } from "../crypto/resumption.js";
import { ErrorCode, FleetError } from "../errors.js";
import { negotiateMutual } from "./capabilities.js";
import { controlEnvelope } from "./envelope.js";
import {
  DEFAULT_HANDSHAKE_BACKOFF_MS,
  DEFAULT_HANDSHAKE_RETRIES,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  frameLimit,
  HANDSHAKE_NONCE_BYTES,
  type HandshakeCommon,
  type HeldTicket,
  type HandshakeStep,
  outOfOrder,
  pinPeer,
  requireBytes,
  requireRecipient,
} from "./handshake-common.js";
import { agreeStep, ephemeralStep, HandshakeMachine, openStep, sessionFromShared, signStep, type Steps } from "./handshake-machine.js";
import { agreeHeartbeat, resolveHeartbeat } from "./heartbeat.js";

export interface HandshakeInitiatorOptions extends HandshakeCommon {
  admissionToken?: string;
  /** The peer's expected agent name; absent: whoever answers as the hub. */
  responder?: string;
  timeoutMs?: number;
  retries?: number;
  backoffMs?: number;
  /**
   * Resume with this ticket (spec/handshake.md "Resumption"): the Hello and Confirm are MACed
   * under its PSK and the Welcome must be too. A refusal (HelloReject, or the connection closed)
   * means: drop the ticket and run a full handshake.
   */
  resume?: HeldTicket;
}

interface Attempt {
  nonce: Uint8Array;
  ephemeral: EphemeralKey;
  hello: SignedEnvelope;
}

export class HandshakeInitiator extends HandshakeMachine<HandshakeInitiatorOptions> {
  private readonly attempts: Attempt[] = [];
  private asyncCrypto = false;

  constructor(opts: HandshakeInitiatorOptions) {
    super(opts, "idle");
  }

  /** How many Hellos were sent so far. */
  get attemptCount(): number {
    return this.attempts.length;
  }

  /** The first Hello. Calling it twice is out of order (105). */
  start(): SignedEnvelope {
    this.begin();
    return this.runSync(this.hello());
  }

  /** start() with async crypto: a WebCrypto X25519 ephemeral key and signature where available. */
  startAsync(): Promise<SignedEnvelope> {
    this.begin();
    this.asyncCrypto = true;
    return this.runAsync(() => this.hello());
  }

  private begin(): void {
    if (this.current !== "idle") throw new FleetError(ErrorCode.HANDSHAKE_REQUIRED, `start() in state ${this.current}`);
    this.current = "awaiting-welcome";
  }

  protected *steps(msg: SignedEnvelope): Steps<HandshakeStep> {
    if (this.current !== "awaiting-welcome") return outOfOrder("a handshake message", this.current);
    // Resuming: the Welcome is under the PSK (a HelloReject is still signed by the responder's key).
    const r = this.opts.resume;
    const macd = msg?.signature?.scheme === SignatureScheme.HMAC_SHA256;
    const env = r && macd ? openResumed(msg, r.psk, "responder", r.ticket, this.opts.clock.now()) : yield* openStep(msg, this.opts.keys);
    if (r && !macd && env.body?.kind.case === "welcome") throw new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, "a resumed Hello is answered by a resumed Welcome", { pointer: "/signature/scheme" });
    if (!r && macd) throw new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, "a resumed Welcome answers no resumed Hello", { pointer: "/signature/scheme" });
    if (r && macd && (env.sender !== r.responder || env.security?.keyId !== keyIdFor(r.responderPublicKey))) {
      throw new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, "a resumed Welcome from another responder", { pointer: "/sender" });
    }
    const kind = env.body?.kind;
    if (kind?.case !== "welcome" && kind?.case !== "helloReject") return outOfOrder(kind?.case ?? "an empty body", this.current);
    // The sender is my peer (when I named one) and the recipient is me (spec/handshake.md).
    if (this.opts.responder !== undefined && env.sender !== this.opts.responder) {
      throw new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, `expected ${this.opts.responder}, got ${env.sender}`, { pointer: "/sender" });
    }
    requireRecipient(env, this.opts.identity.agent, false);
    const attempt = this.attempts.find((a) => constantTimeEqual(a.nonce, kind.value.initiatorNonce));
    if (!attempt) throw new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, "the answer does not echo any of our nonces", { pointer: `/body/${kind.case}/initiatorNonce` });
    if (kind.case === "helloReject") {
      const code = kind.value.error?.code || ErrorCode.HANDSHAKE_REJECTED;
      const supported = kind.value.supportedVersions.length ? ` (peer speaks ${kind.value.supportedVersions.join(", ")})` : "";
      return this.fail(new FleetError(code, `handshake rejected: ${kind.value.error?.message ?? ""}${supported}`));
    }
    if (r && !constantTimeEqual(kind.value.identityPublicKey, r.responderPublicKey)) {
      throw new FleetError(ErrorCode.HANDSHAKE_AUTH_FAILED, "a resumed Welcome names another responder key", { pointer: "/body/welcome/identityPublicKey" });
    }
    return yield* this.welcome(env.sender, env.security!.keyId, kind.value, msg, attempt, env.id);
  }

  private *welcome(peer: string, peerKeyId: string, w: Welcome, signed: SignedEnvelope, attempt: Attempt, welcomeId: string): Steps<HandshakeStep> {
    requireBytes(w.nonce, HANDSHAKE_NONCE_BYTES, "/body/welcome/nonce");
    requireBytes(w.ephemeralPublicKey, 32, "/body/welcome/ephemeralPublicKey");
    requireBytes(w.identityPublicKey, 32, "/body/welcome/identityPublicKey");
    if (!w.sessionId) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "welcome without session id", { pointer: "/body/welcome/sessionId" });
    if (!this.versions.includes(w.version)) {
      return this.fail(new FleetError(ErrorCode.HANDSHAKE_VERSION_MISMATCH, `peer chose version ${w.version}, we speak ${this.versions.join(", ")}`));
    }
    // Our own check of both sides' needs (the responder made the same one before welcoming us).
    const ours = negotiateMutual(this.capabilities, w.capabilities);
    if (ours.error) return this.fail(ours.error);
    const transcript = handshakeTranscript({
      initiator: this.opts.identity.agent,
      initiatorKey: this.opts.identity.publicKey,
      responder: peer,
      responderKey: w.identityPublicKey,
      hello: attempt.hello.payload,
      welcome: signed.payload,
    });
    const shared = yield* agreeStep(attempt.ephemeral, w.ephemeralPublicKey);
    const session = sessionFromShared("initiator", w.sessionId, shared, transcript);
    // The responder's next ticket seals the PSK this handshake derived.
    const ticket: HeldTicket | undefined = w.resumptionTicket.length
      ? { responder: peer, responderPublicKey: w.identityPublicKey, ticket: w.resumptionTicket, psk: resumptionPsk(shared, attempt.nonce, w.nonce, w.sessionId), expiresAtMs: this.opts.clock.now() + w.resumptionLifetimeSeconds * 1000 }
      : undefined;
    shared.fill(0);
    pinPeer(this.opts.keys, peer, w.identityPublicKey);
    const confirmEnv = controlEnvelope({
      sender: this.opts.identity.agent,
      to: { agent: peer },
      type: MessageType.COMMAND,
      body: { case: "handshakeConfirm", value: create(HandshakeConfirmSchema, { sessionId: w.sessionId, responderNonce: w.nonce, finished: session.finished() }) },
      clock: this.opts.clock,
      inReplyTo: welcomeId,
    });
    const r = this.opts.resume;
    const confirm = r ? signResumed(confirmEnv, this.opts.identity.keyId, r.psk, "initiator", r.ticket) : yield* signStep(confirmEnv);
    this.stopTimer();
    this.current = "established";
    return {
      send: confirm,
      established: {
        sessionId: w.sessionId,
        peer,
        peerKeyId,
        peerPublicKey: w.identityPublicKey,
        version: w.version,
        sharedCapabilities: ours.shared,
        heartbeat: agreeHeartbeat(this.opts.heartbeat, w.heartbeat),
        maxFrameBytes: frameLimit(this.opts.maxFrameBytes, w.maxFrameBytes),
        session,
        notices: ours.notices,
        resumed: r !== undefined,
        ticket,
      },
    };
  }

  private *hello(): Steps<SignedEnvelope> {
    const ephemeral = yield* ephemeralStep();
    const nonce = randomBytes(HANDSHAKE_NONCE_BYTES);
    const hello = create(HelloSchema, {
      versions: this.versions,
      capabilities: this.capabilities,
      nonce,
      ephemeralPublicKey: ephemeral.publicKey,
      identityPublicKey: this.opts.identity.publicKey,
      heartbeat: resolveHeartbeat(this.opts.heartbeat),
      maxFrameBytes: this.opts.maxFrameBytes ?? 0,
      admissionToken: this.opts.admissionToken ?? "",
    });
    const helloEnv = controlEnvelope({
      sender: this.opts.identity.agent,
      to: this.opts.responder !== undefined ? { agent: this.opts.responder } : "hub",
      type: MessageType.COMMAND,
      body: { case: "hello", value: hello },
      clock: this.opts.clock,
    });
    const r = this.opts.resume;
    const signed = r ? signResumed(helloEnv, this.opts.identity.keyId, r.psk, "initiator", r.ticket) : yield* signStep(helloEnv);
    this.attempts.push({ nonce, ephemeral, hello: signed });
    this.armTimeout();
    return signed;
  }

  private armTimeout(): void {
    this.stopTimer();
    this.timer = this.opts.clock.setTimer(() => {
      this.timer = undefined;
      const retries = this.opts.retries ?? DEFAULT_HANDSHAKE_RETRIES;
      if (this.attempts.length > retries) {
        this.current = "failed";
        this.timeoutHandler?.({ error: new FleetError(ErrorCode.HANDSHAKE_TIMEOUT, `no answer to ${this.attempts.length} hellos`) });
        return;
      }
      const backoff = (this.opts.backoffMs ?? DEFAULT_HANDSHAKE_BACKOFF_MS) * 2 ** (this.attempts.length - 1);
      this.timer = this.opts.clock.setTimer(() => {
        this.timer = undefined;
        if (this.current !== "awaiting-welcome") return;
        if (!this.asyncCrypto) return this.timeoutHandler?.({ send: this.runSync(this.hello()) });
        this.runAsync(() => this.hello()).then(
          (send) => this.current === "awaiting-welcome" && this.timeoutHandler?.({ send }),
          (e) => this.timeoutHandler?.({ error: e instanceof FleetError ? e : new FleetError(ErrorCode.INTERNAL_ERROR, String(e)) }),
        );
      }, backoff);
    }, this.opts.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS);
  }

  private fail(error: FleetError): HandshakeStep {
    this.stopTimer();
    this.current = "failed";
    return { error };
  }
}
