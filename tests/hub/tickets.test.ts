// The hub's resumption tickets (runtime/hub/tickets.ts): a key file of its own, 0600, read
// back after a restart; a hub told to issue none resumes nobody.
import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { connectHub } from "../../runtime/client/hub-client.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { ErrorCode } from "../../runtime/errors.js";
import { systemClock } from "../../runtime/clock.js";
import { MAX_TICKET_BYTES, randomBytes } from "../../runtime/crypto/index.js";
import { HubTickets } from "../../runtime/hub/tickets.js";
import { cleanup, inProcessHub, tmpDir, until } from "./support.js";

afterEach(cleanup);
const FAST = { initialDelayMs: 20, maxDelayMs: 200 };

describe("hub resumption tickets", () => {
  it("the ticket key is a 0600 file of the store, the same after a restart; a refused ticket falls back to the full handshake", async () => {
    const hubIdentity = generateIdentity("fleet-hub");
    const storeDir = join(tmpDir(), "hub");
    let hub = await inProcessHub({ identity: hubIdentity, storeDir });
    const key = join(storeDir, "ticket.key");
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const before = readFileSync(key);
    expect(before.length).toBe(32);
    const alpha = await connectHub({ port: hub.port, identity: generateIdentity("alpha"), reconnect: FAST });
    expect(alpha.resumed).toBe(false);
    expect(hub.hub.tickets.counters.issued).toBe(1);
    const port = hub.port;
    await hub.close();
    await until(() => alpha.status !== "connected", 5_000, "link lost");
    hub = await inProcessHub({ identity: hubIdentity, storeDir, port });
    await until(() => alpha.status === "connected", 10_000, "reconnected");
    expect(readFileSync(key)).toEqual(before);
    expect(alpha.resumed).toBe(true);
    // Voiding every ticket: a new key file. The next reconnection is refused its ticket, then runs in full.
    await hub.close();
    await until(() => alpha.status !== "connected", 5_000, "link lost");
    writeFileSync(key, new Uint8Array(32).fill(7), { mode: 0o600 });
    hub = await inProcessHub({ identity: hubIdentity, storeDir, port });
    await until(() => alpha.status === "connected", 10_000, "reconnected again");
    expect(alpha.resumed).toBe(false);
    expect(hub.hub.tickets.counters).toMatchObject({ refused: 1, resumed: 0, issued: 1 });
    await alpha.close();
  });

  it("a key file readable by others or of the wrong size is refused with a coded error; ticketLifetimeMs 0 issues no tickets", async () => {
    const storeDir = join(tmpDir(), "hub");
    const hub = await inProcessHub({ storeDir, ticketLifetimeMs: 0 });
    const alpha = await connectHub({ port: hub.port, identity: generateIdentity("alpha"), reconnect: false });
    expect(hub.hub.tickets.counters.issued).toBe(0);
    await alpha.close();
    await hub.close();
    chmodSync(join(storeDir, "ticket.key"), 0o644);
    await expect(inProcessHub({ storeDir })).rejects.toMatchObject({ code: ErrorCode.SECURITY_UNAUTHORIZED });
    writeFileSync(join(storeDir, "ticket.key"), new Uint8Array(5), { mode: 0o600 });
    chmodSync(join(storeDir, "ticket.key"), 0o600);
    await expect(inProcessHub({ storeDir })).rejects.toMatchObject({ code: ErrorCode.SECURITY_MALFORMED_KEY });
  });

  it("a ticket never passes MAX_TICKET_BYTES: a name too long for one gets none", () => {
    const t = HubTickets.open(tmpDir(), 60_000, systemClock);
    const ok = t.issue("a".repeat(128), randomBytes(32), randomBytes(32));
    expect(ok!.ticket.length).toBeLessThanOrEqual(MAX_TICKET_BYTES);
    expect(t.open(ok!.ticket).agent).toBe("a".repeat(128));
    expect(t.issue("𝄞".repeat(128), randomBytes(32), randomBytes(32))).toBeUndefined();
    expect(t.counters.issued).toBe(1);
  });
});
