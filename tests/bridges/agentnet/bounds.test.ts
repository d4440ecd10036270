// The agentnet bridge's tables are bounded: accounts, sessions (register answers "busy"),
// in-flight messages (receipt "busy"), and a session without hello is evicted after 40 s.
import { describe, expect, it } from "vitest";
import { FakeClock } from "../../../runtime/clock.js";
import { generateIdentity } from "../../../runtime/crypto/index.js";
import { messageClaims, signClaims } from "../../../runtime/bridges/agentnet/dev-auth.js";
import { isoMicros, newMessageId, newUlid } from "../../../runtime/bridges/agentnet/ids.js";
import { MAX_PENDING, RealmReceiver } from "../../../runtime/bridges/agentnet/receiver.js";
import { RealmRegistry } from "../../../runtime/bridges/agentnet/registry.js";

function register(reg: RealmRegistry, clock: FakeClock, username: string, identity = generateIdentity(username)) {
  const claims = { agent_id: `${username}-agent`, name: username, username, account_id: "", timestamp: isoMicros(clock.now()), nonce: newUlid() };
  return reg.register({ agent_id: claims.agent_id, name: username, username, capabilities: [], metadata: {}, auth: signClaims(claims, identity) });
}

describe("RealmRegistry bounds", () => {
  it("refuses new accounts past maxAccounts and new sessions past maxSessions (busy)", () => {
    const clock = new FakeClock();
    const reg = new RealmRegistry({ clock, maxAccounts: 2, maxSessions: 3 });
    expect(register(reg, clock, "a")).toHaveProperty("account_id");
    expect(register(reg, clock, "b")).toHaveProperty("account_id");
    expect(register(reg, clock, "c")).toEqual({ error: "busy" });
    const a = generateIdentity("a2");
    const reg2 = new RealmRegistry({ clock, maxAccounts: 10, maxSessions: 2 });
    register(reg2, clock, "x", a);
    register(reg2, clock, "x", a);
    expect(register(reg2, clock, "x", a)).toEqual({ error: "busy" });
    // Sessions without a hello for 40 s are evicted, which frees room.
    clock.advance(41_000);
    expect(register(reg2, clock, "x", a)).toHaveProperty("session_tag");
    expect(reg2.sessions.size).toBe(1);
  });
});

describe("RealmReceiver bounds", () => {
  it("answers busy when 100 messages are in flight", () => {
    const clock = new FakeClock();
    const id = generateIdentity("s");
    const rx = new RealmReceiver({ clock, keyOf: () => id.publicKey });
    const env: Record<string, unknown> = { message_id: newMessageId(), from_agent: "s", to_agent: "r", payload: { a: 1 }, sent_at: isoMicros(clock.now()), kind: "direct", schema_version: "1.1", from_account_id: "acct_s", to_account_id: "acct_r", ttl_ms: 30_000, expires_at: isoMicros(clock.now() + 30_000), trace_id: "t", thread_id: "th" };
    env.auth = signClaims(messageClaims(env, true), id);
    rx.pending = MAX_PENDING;
    expect(rx.check(new TextEncoder().encode(JSON.stringify(env)), "acct_r")).toMatchObject({ ok: false, code: "busy" });
    rx.pending = 0;
    expect(rx.check(new TextEncoder().encode(JSON.stringify(env)), "acct_r")).toMatchObject({ ok: true });
  });
});
