// Where a bottle engine keeps what it holds. The hub persists this in SQLite; the
// in-memory version serves relays in tests and small agents.
import type { Bottle, BottleLetter, BottleStatus } from "../../generated/proto/fleet/v1/bottle_pb.js";
import type { ErrorCode } from "../errors.js";

/**
 * A bottle's identity (spec/bottles.md): its origin and its bottle_id together, never the id
 * alone, so no one can squat another origin's id. Length-prefixed, so no two pairs collide.
 */
export function bottleKey(origin: string, bottleId: string): string {
  return `${origin.length}:${origin}/${bottleId}`;
}

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
  /** The bottle named (origin, bottleId). */
  get(origin: string, bottleId: string): StoredBottle | undefined;
  /** Insert or replace by (origin, bottle id). */
  put(record: StoredBottle): void;
  /** Every bottle still held (any status), any order. */
  all(): Iterable<StoredBottle>;
  /** Drops a record (after expiry, once delivery can no longer be repeated). */
  delete(origin: string, bottleId: string): void;
}

export class MemoryBottleStorage implements BottleStorage {
  private readonly map = new Map<string, StoredBottle>();
  get(origin: string, id: string) {
    return this.map.get(bottleKey(origin, id));
  }
  put(r: StoredBottle) {
    this.map.set(bottleKey(r.origin, r.bottleId), r);
  }
  all() {
    return this.map.values();
  }
  delete(origin: string, id: string) {
    this.map.delete(bottleKey(origin, id));
  }
}
