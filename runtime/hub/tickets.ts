// The hub's resumption tickets (spec/handshake.md "Resumption"). A ticket seals the PSK of a
// handshake and the agent's key under the hub's ticket key, so the hub keeps no table: any
// number of tickets costs nothing to hold. The key lives in the store directory (ticket.key,
// 0600), so tickets survive a restart, kill -9 included; delete the file to void them all.
import { chmodSync, closeSync, existsSync, openSync, readFileSync, renameSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Clock } from "../clock.js";
import { randomBytes } from "../crypto/index.js";
import { MAX_TICKET_BYTES, openTicket, sealTicket, TICKET_KEY_BYTES, type TicketState } from "../crypto/resumption.js";
import { ErrorCode, FleetError } from "../errors.js";
import type { ResponderTickets } from "../protocol/handshake-common.js";

/** Default ticket lifetime: one day (HubOptions.ticketLifetimeMs; 0 turns resumption off). */
export const DEFAULT_TICKET_LIFETIME_MS = 86_400_000;
const TICKET_KEY_FILE = "ticket.key";

export class HubTickets implements ResponderTickets {
  readonly counters = { issued: 0, resumed: 0, refused: 0 };

  private constructor(
    private readonly key: Uint8Array,
    private readonly lifetimeMs: number,
    private readonly clock: Clock,
  ) {}

  /** The hub's tickets, with the key from storeDir/ticket.key (created 0600 on first use). */
  static open(storeDir: string, lifetimeMs: number, clock: Clock): HubTickets {
    return new HubTickets(loadOrCreateTicketKey(storeDir), lifetimeMs, clock);
  }

  issue(agent: string, identityPublicKey: Uint8Array, psk: Uint8Array): { ticket: Uint8Array; lifetimeSeconds: number } | undefined {
    if (this.lifetimeMs <= 0) return undefined;
    const ticket = sealTicket(this.key, { agent, identityPublicKey, psk, expiresAtMs: this.clock.now() + this.lifetimeMs }, randomBytes(12));
    // A name so long the ticket would pass the bound every responder may hold it to: no ticket.
    if (ticket.length > MAX_TICKET_BYTES) return undefined;
    this.counters.issued++;
    return { ticket, lifetimeSeconds: Math.floor(this.lifetimeMs / 1000) };
  }

  open(ticket: Uint8Array): TicketState {
    try {
      const state = openTicket(this.key, ticket, this.clock.now());
      this.counters.resumed++;
      return state;
    } catch (e) {
      this.counters.refused++;
      throw e;
    }
  }
}

function loadOrCreateTicketKey(storeDir: string): Uint8Array {
  const path = join(storeDir, TICKET_KEY_FILE);
  try {
    if (existsSync(path)) {
      if ((statSync(path).mode & 0o077) !== 0) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `${path} is readable by others: chmod 600 it (or delete it to void every ticket)`);
      const key = new Uint8Array(readFileSync(path));
      if (key.length !== TICKET_KEY_BYTES) throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, `${path} is not a ${TICKET_KEY_BYTES}-byte ticket key: delete it to void every ticket`);
      return key;
    }
    const key = randomBytes(TICKET_KEY_BYTES);
    const tmp = `${path}.${process.pid}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, key);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
    return key;
  } catch (e) {
    if (e instanceof FleetError) throw e;
    throw new FleetError(ErrorCode.DELIVERY_STORE_FAILED, `cannot read or write the ticket key ${path}: ${(e as NodeJS.ErrnoException).code ?? "error"}`);
  }
}
