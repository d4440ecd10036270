// What both handshake machines share: their state, timer and negotiation setup, and the way
// they use cryptography. Each step is written once as a generator that yields crypto
// operations; two drivers run it: synchronous (node:crypto, else @noble: the hub and NATS
// use it) and asynchronous (node:crypto on Node, WebCrypto Ed25519/X25519 in browsers that
// have them, @noble otherwise), so the browser gets WebCrypto without a second copy of the logic.
import { create } from "@bufbuild/protobuf";
import { type CapabilitySet, CapabilitySetSchema } from "../../generated/proto/fleet/v1/capabilities_pb.js";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import type { SignedEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import type { TimerId } from "../clock.js";
import {
  createEphemeralAsync,
  createEphemeralKey,
  deriveSessionKeys,
  type EphemeralKey,
  type KeyResolver,
  Session,
  type SessionRole,
  signEnvelope,
  signEnvelopeAsync,
} from "../crypto/index.js";
import { ErrorCode, FleetError } from "../errors.js";
import { type HandshakeCommon, type HandshakeState, type HandshakeStep, openHandshake, openHandshakeAsync } from "./handshake-common.js";
import { SUPPORTED_VERSIONS } from "./versions.js";

type Op =
  | { op: "open"; signed: SignedEnvelope; keys: KeyResolver; deferBinding: boolean }
  | { op: "sign"; env: Envelope }
  | { op: "ephemeral" }
  | { op: "agree"; key: EphemeralKey; peer: Uint8Array };

/** A handshake step: yields crypto operations, returns T. */
export type Steps<T> = Generator<Op, T, unknown>;

/** Verifies a handshake envelope (openHandshake / openHandshakeAsync); 104 on failure. */
export function* openStep(signed: SignedEnvelope, keys: KeyResolver, deferBinding = false): Steps<Envelope> {
  return (yield { op: "open", signed, keys, deferBinding }) as Envelope;
}

export function* signStep(env: Envelope): Steps<SignedEnvelope> {
  return (yield { op: "sign", env }) as SignedEnvelope;
}

export function* ephemeralStep(): Steps<EphemeralKey> {
  return (yield { op: "ephemeral" }) as EphemeralKey;
}

/** X25519 with the peer's ephemeral key: the shared secret (the caller wipes it). */
export function* agreeStep(key: EphemeralKey, peer: Uint8Array): Steps<Uint8Array> {
  return (yield { op: "agree", key, peer }) as Uint8Array;
}

/** HKDF of the X25519 secret into the session keys (spec/sessions.md). */
export function sessionFromShared(role: SessionRole, sessionId: string, shared: Uint8Array, transcript: Uint8Array): Session {
  return new Session(sessionId, role, deriveSessionKeys(shared, sessionId, transcript), transcript);
}

const asError = (e: unknown) => (e instanceof FleetError ? e : new FleetError(ErrorCode.INTERNAL_ERROR, String(e)));

export abstract class HandshakeMachine<O extends HandshakeCommon> {
  protected current: HandshakeState;
  protected timer: TimerId | undefined;
  protected timeoutHandler: ((step: HandshakeStep) => void) | undefined;
  protected readonly versions: string[];
  protected readonly capabilities: CapabilitySet;
  // Async runs go one at a time, so a step's awaits never interleave with another step.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(protected readonly opts: O, initial: HandshakeState) {
    this.current = initial;
    this.versions = opts.versions ?? [...SUPPORTED_VERSIONS];
    this.capabilities = opts.capabilities ?? create(CapabilitySetSchema);
  }

  get state(): HandshakeState {
    return this.current;
  }

  /** Called with a retry (`send`) or 101 (`error`) when the peer does not answer in time. */
  onTimeout(cb: (step: HandshakeStep) => void): void {
    this.timeoutHandler = cb;
  }

  /** Stops the timers (the caller gave up or the connection closed). */
  cancel(): void {
    this.stopTimer();
    if (this.current !== "established") this.current = "failed";
  }

  /** Handles one handshake message with synchronous crypto. Never throws: failures are in `error`. */
  receive(msg: SignedEnvelope): HandshakeStep {
    try {
      return this.runSync(this.steps(msg));
    } catch (e) {
      return { error: asError(e) };
    }
  }

  /** receive() with async crypto (WebCrypto where the host has it); calls are handled in order. */
  receiveAsync(msg: SignedEnvelope): Promise<HandshakeStep> {
    return this.runAsync(() => this.steps(msg)).catch((e) => ({ error: asError(e) }));
  }

  /** The step for one incoming message; input that fails verification leaves the state as it was. */
  protected abstract steps(msg: SignedEnvelope): Steps<HandshakeStep>;

  protected stopTimer(): void {
    if (this.timer !== undefined) this.opts.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  protected runSync<T>(steps: Steps<T>): T {
    let r = steps.next();
    while (!r.done) {
      let value: unknown;
      try {
        value = this.syncOp(r.value);
      } catch (e) {
        r = steps.throw(e);
        continue;
      }
      r = steps.next(value);
    }
    return r.value;
  }

  protected runAsync<T>(make: () => Steps<T>): Promise<T> {
    const run = this.queue.then(async () => {
      const steps = make();
      let r = steps.next();
      while (!r.done) {
        let value: unknown;
        try {
          value = await this.asyncOp(r.value);
        } catch (e) {
          r = steps.throw(e);
          continue;
        }
        r = steps.next(value);
      }
      return r.value;
    });
    this.queue = run.catch(() => {});
    return run;
  }

  private syncOp(o: Op): unknown {
    switch (o.op) {
      case "open":
        return openHandshake(o.signed, o.keys, this.opts.clock, o.deferBinding);
      case "sign":
        return signEnvelope(o.env, this.opts.identity);
      case "ephemeral":
        return createEphemeralKey();
      case "agree":
        if (!o.key.agreeSync) throw new FleetError(ErrorCode.INTERNAL_ERROR, "this handshake's key is asynchronous (WebCrypto): use receiveAsync");
        return o.key.agreeSync(o.peer);
    }
  }

  private asyncOp(o: Op): Promise<unknown> {
    switch (o.op) {
      case "open":
        return openHandshakeAsync(o.signed, o.keys, this.opts.clock, o.deferBinding);
      case "sign":
        return signEnvelopeAsync(o.env, this.opts.identity);
      case "ephemeral":
        return createEphemeralAsync();
      case "agree":
        return o.key.agree(o.peer);
    }
  }
}
