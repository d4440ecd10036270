// Admissions are group-committed: the pins and registry entries of every handshake that
// completes in one event-loop turn are written in one transaction; an already pinned key
// with an unchanged entry writes nothing; frames sent while the admission commits are
// handled afterwards, in order; two new agents claiming one name in the same turn: 607.
import { afterEach, describe, expect, it } from "vitest";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { ErrorCode, isFleetError } from "../../runtime/errors.js";
import { cleanup, inProcessHub, until } from "./support.js";

afterEach(cleanup);

/** Counts outermost transactions (commits) on the hub's real store. */
function countTransactions(hub: Awaited<ReturnType<typeof inProcessHub>>): { n: number } {
  const counter = { n: 0 };
  const store = hub.hub.store;
  const original = store.transaction.bind(store);
  let depth = 0;
  store.transaction = <T>(fn: () => T): T => {
    if (depth === 0) counter.n++;
    depth++;
    try {
      return original(fn);
    } finally {
      depth--;
    }
  };
  return counter;
}

describe("hub: admissions by group commit", () => {
  it("pins every new agent of a burst (batched per turn); a reconnecting pinned agent writes nothing", async () => {
    const hub = await inProcessHub();
    const tx = countTransactions(hub);
    const ids = Array.from({ length: 40 }, (_, i) => generateIdentity(`new-${i}`));
    const conns = await Promise.all(ids.map((identity) => connectHub({ port: hub.port, identity, reconnect: false })));
    await until(() => ids.every((id) => hub.hub.isOnline(id.agent)), 5_000, "all online");
    expect(ids.every((id) => hub.hub.pins.keyIdOf(id.agent) === id.keyId)).toBe(true);
    expect(tx.n).toBeLessThanOrEqual(ids.length + 1); // never more than one commit per admission (+ presence)
    for (const c of conns) await c.close();
    await until(() => !hub.hub.isOnline("new-0"), 5_000, "offline");
    tx.n = 0;
    const again = await connectHub({ port: hub.port, identity: ids[0]!, reconnect: false });
    await until(() => hub.hub.isOnline("new-0"), 5_000, "back online");
    expect(tx.n).toBe(0);
    await again.close();
  });

  it("handles what a new agent sends right after its handshake, in order, once the admission is written; session messages to an agent still admitting reach it", async () => {
    const hub = await inProcessHub();
    const alpha = await connectHub({ port: hub.port, identity: generateIdentity("alpha") });
    const beta = await connectHub({ port: hub.port, identity: generateIdentity("beta") });
    const got: Envelope[] = [];
    beta.onMessage((env) => got.push(env));
    // Signed and session-authenticated, sent at once, while either may still be admitting.
    await Promise.all([1, 2, 3, 4].map((i) => alpha.send({ id: `m${i}`, to: "beta", json: i, sign: i % 2 === 0, requiresAck: true })));
    await until(() => got.length === 4, 5_000, "four messages");
    expect(got.map((e) => e.id)).toEqual(["m1", "m2", "m3", "m4"]);
  });

  it("two new agents claiming one name in the same turn: the first is pinned, the second refused with 607", async () => {
    const hub = await inProcessHub();
    const results = await Promise.allSettled([0, 1].map(() => connectHub({ port: hub.port, identity: generateIdentity("twin"), reconnect: false })));
    const ok = results.filter((r) => r.status === "fulfilled") as PromiseFulfilledResult<Awaited<ReturnType<typeof connectHub>>>[];
    expect(ok.length).toBeGreaterThanOrEqual(1);
    // Whichever lost either failed its handshake or was closed with 607 just after it.
    const ends = await Promise.all(
      ok.map((r) => new Promise<number | undefined>((resolve) => {
        r.value.onClose((e) => resolve(e?.code));
        setTimeout(() => resolve(undefined), 1_000);
      })),
    );
    const lost = [ErrorCode.SECURITY_KEY_MISMATCH, ErrorCode.HANDSHAKE_AUTH_FAILED];
    const refused = results.filter((r) => r.status === "rejected" && isFleetError(r.reason) && lost.includes(r.reason.code)).length + ends.filter((c) => c !== undefined && lost.includes(c)).length;
    expect(refused).toBe(1);
    expect(hub.hub.pins.keyIdOf("twin")).toBeDefined();
  });

  it("admits an agent with nothing stored without reading its inbox; one with stored messages gets them", async () => {
    const hub = await inProcessHub();
    const store = hub.hub.store;
    const reads = { n: 0 };
    const pendingFor = store.pendingFor.bind(store);
    store.pendingFor = (...args: Parameters<typeof store.pendingFor>) => {
      reads.n++;
      return pendingFor(...args);
    };
    const alpha = await connectHub({ port: hub.port, identity: generateIdentity("alpha"), reconnect: false });
    const betaId = generateIdentity("beta");
    const beta = await connectHub({ port: hub.port, identity: betaId, reconnect: false });
    await until(() => hub.hub.isOnline("beta"), 5_000, "beta online");
    await beta.close();
    await until(() => !hub.hub.isOnline("beta"), 5_000, "beta offline");
    reads.n = 0;
    const again = await connectHub({ port: hub.port, identity: betaId, reconnect: false });
    await until(() => hub.hub.isOnline("beta"), 5_000, "beta back");
    expect(reads.n).toBe(0);
    await again.close();
    await until(() => !hub.hub.isOnline("beta"), 5_000, "beta offline again");
    await alpha.send({ id: "held-1", to: "beta", json: "while you were out", requiresAck: true });
    const third = await connectHub({ port: hub.port, identity: betaId, reconnect: false });
    const got: Envelope[] = [];
    third.onMessage((env) => got.push(env));
    await until(() => got.length === 1, 5_000, "the stored message");
    expect(got[0]!.id).toBe("held-1");
    expect(reads.n).toBeGreaterThan(0);
    await third.close();
    await alpha.close();
  });
});
