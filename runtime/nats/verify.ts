// Verification of what arrives over NATS, before anything is processed. Live (core)
// messages are checked against this clock. Durable (JetStream) messages may have waited
// in an offline inbox for hours, so their skew is judged against the time the server
// stored them (which is also constant across redeliveries, so a redelivery is a 604
// replay, never a fresh message); expiry is still judged against now (802 via AckResponder).
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import type { SignedEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import type { Clock } from "../clock.js";
import { openSignedEnvelope, ReplayGuard, type PinnedKeys, type ReplayStore } from "../crypto/index.js";
import { introducingResolver, type TrustPolicy } from "./keys.js";

export class SignedVerifier {
  private readonly live: ReplayGuard;
  private storedAt = 0;
  private readonly stored: ReplayGuard;
  private readonly storeClock: Clock;

  constructor(
    private readonly keys: PinnedKeys,
    private readonly trust: TrustPolicy,
    clock: Clock,
    store?: ReplayStore,
  ) {
    // With a durable store (the CLI, agents that ask), seen ids survive a restart on both paths.
    this.live = new ReplayGuard({ clock, store });
    this.storeClock = { now: () => this.storedAt, setTimer: clock.setTimer, clearTimer: clock.clearTimer };
    this.stored = new ReplayGuard({ clock: this.storeClock, store });
  }

  /**
   * Verifies a SignedEnvelope; storedAtMs is the JetStream timestamp for durable messages.
   * remember: false skips the seen-id record, for stored messages that are deliberately
   * redelivered (bottles waiting for their condition; they dedupe by bottle id instead).
   */
  open(signed: SignedEnvelope, announcedKey: Uint8Array | undefined, storedAtMs?: number, remember = true): Envelope {
    const keys = introducingResolver(this.keys, announcedKey, this.trust);
    if (storedAtMs === undefined) return openSignedEnvelope(signed, { keys, replay: this.live });
    this.storedAt = storedAtMs;
    if (!remember) return openSignedEnvelope(signed, { keys, clock: this.storeClock });
    return openSignedEnvelope(signed, { keys, replay: this.stored });
  }
}
