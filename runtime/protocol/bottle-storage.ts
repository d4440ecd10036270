// Where a bottle engine keeps what it holds. The hub persists this in SQLite; the
// in-memory version serves relays in tests and small agents.
import type { Bottle, BottleLetter, BottleStatus } from "../../generated/proto/fleet/v1/bottle_pb.js";
import type { ErrorCode } from "../errors.js";

export interface StoredBottle {
  bottleId: string;
  /** The bottle as this node holds it (its own postmark included). */
  bottle: Bottle;
  /** The verified letter (also inside bottle.letter). */
  letter: BottleLetter;
  /** The origin agent (the letter's signer). */
  origin: string;
  status: BottleStatus;
  /** For EXPIRED and FAILED. */
  reason: ErrorCode;
  detail: string;
  /** Unix ms when the letter expires (created_at + ttl). */
  expiresAt: number;
  updatedAt: number;
  /** Handed to another relay: this node no longer delivers it. */
  relayed: boolean;
}

export interface BottleStorage {
  get(bottleId: string): StoredBottle | undefined;
  /** Insert or replace by bottle id. */
  put(record: StoredBottle): void;
  /** Every bottle still held (any status), any order. */
  all(): Iterable<StoredBottle>;
  /** Drops a record (after expiry, once delivery can no longer be repeated). */
  delete(bottleId: string): void;
}

export class MemoryBottleStorage implements BottleStorage {
  private readonly map = new Map<string, StoredBottle>();
  get(id: string) {
    return this.map.get(id);
  }
  put(r: StoredBottle) {
    this.map.set(r.bottleId, r);
  }
  all() {
    return this.map.values();
  }
  delete(id: string) {
    this.map.delete(id);
  }
}
