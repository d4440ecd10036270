// The agentnet bridge on a real nats-server with a real NATS Fleet agent and a Realm client
// built from agentnet's wire rules: registry requests, both directions with receipts,
// request/reply, and every refusal spec/bridges/agentnet.md lists.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Envelope } from "../../../generated/proto/fleet/v1/envelope_pb.js";
import { MessageType } from "../../../generated/proto/fleet/v1/envelope_pb.js";
import { applicationValue } from "../../../runtime/client/draft.js";
import { generateIdentity } from "../../../runtime/crypto/index.js";
import { connectNats, type NatsFleetConnection } from "../../../runtime/nats/connection.js";
import { AGENTNET_ENVELOPE_MEDIA_TYPE, startAgentnetBridge, type AgentnetBridge } from "../../../runtime/bridges/agentnet/bridge.js";
import { openAgentnetEnvelope } from "../../../runtime/bridges/agentnet/open.js";
import { isoMicros, newUlid } from "../../../runtime/bridges/agentnet/ids.js";
import { natsServerBinary, startNatsServer, type NatsServerHandle } from "../../support/nats-server.js";
import { until } from "../../hub/support.js";
import { RealmClient, type Json } from "./realm-client.js";

const have = natsServerBinary() !== null;
let nats: NatsServerHandle;
let bridge: AgentnetBridge;
let beta: NatsFleetConnection;
const betaInbox: Envelope[] = [];
let alice: RealmClient;
const clients: RealmClient[] = [];

function realm(agentId: string, username: string, capabilities: string[] = []): RealmClient {
  const c = new RealmClient(nats.url, { agentId, name: agentId, username, capabilities });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  if (!have) return;
  nats = await startNatsServer();
  bridge = await startAgentnetBridge({ natsUrl: nats.url });
  beta = await connectNats({ url: nats.url, identity: generateIdentity("agent-beta") });
  beta.onMessage((env) => {
    betaInbox.push(env);
    if (env.type === MessageType.REQUEST) void beta.send({ to: env.sender, type: MessageType.RESPONSE, inReplyTo: env.id, json: { echoed: (applicationValue(env) as Json).payload } });
  });
  alice = realm("alice-agent", "alice");
  await alice.start();
});

afterAll(async () => {
  for (const c of clients) await c.close();
  await beta?.close();
  await bridge?.close();
  await nats?.stop();
});

describe.skipIf(!have)("agentnet registry at the bridge", () => {
  it("registers with signed claims and returns agentnet's fields; the same key gets the same account", async () => {
    expect(alice.accountId).toMatch(/^acct_[0-9a-z]{26}$/);
    expect(alice.sessionTag).toMatch(/_[0-9A-Z]{26}$/);
    const again = new RealmClient(nats.url, { agentId: "alice-agent-2", name: "alice-agent-2", username: "alice", identity: alice.identity });
    clients.push(again);
    const r = await again.start();
    expect(r).toMatchObject({ account_id: alice.accountId, username: "alice", heartbeat_interval: 12.0, ttl_seconds: 40.0 });
    await again.close(); // it shares alice's inbox queue group
  });

  it("refuses unsigned, replayed, stale, mismatched, badly signed and second-key registrations", async () => {
    const c = realm("carol-agent", "carol");
    await c.open();
    expect(await c.request("registry.register", c.registerBody({ sign: false }))).toEqual({ error: "auth_missing" });
    const body = c.registerBody();
    expect(await c.request("registry.register", body)).not.toHaveProperty("error");
    expect(await c.request("registry.register", body)).toEqual({ error: "auth_nonce_replay" });
    expect(await c.request("registry.register", c.registerBody({ claims: { timestamp: isoMicros(Date.now() - 10 * 60_000) } }))).toEqual({ error: "auth_timestamp_invalid" });
    expect(await c.request("registry.register", c.registerBody({ claims: { name: "someone-else" } }))).toEqual({ error: "auth_claims_mismatch" });
    const forged = c.registerBody() as { auth: { signature: string } };
    forged.auth.signature = forged.auth.signature.replace(/^./, (ch) => (ch === "A" ? "B" : "A"));
    expect(await c.request("registry.register", forged as Json)).toEqual({ error: "auth_signature_invalid" });
    expect(await c.request("registry.register", c.registerBody({ identity: generateIdentity("mallory") }))).toEqual({ error: "auth_public_key_mismatch" });
  });

  it("lists online sessions, drops one at goodbye, and resolves, profiles and searches accounts (Fleet agents included)", async () => {
    const d = realm("dave-agent", "dave");
    await d.start();
    const listed = (await d.request("registry.list", {})).agents as Json[];
    expect(listed.map((a) => a.agent_id)).toEqual(expect.arrayContaining(["dave-agent", "alice-agent"]));
    await d.goodbye();
    await until(() => !bridge.registry.online(d.accountId), 5_000, "the goodbye");
    expect(((await d.request("registry.list", {})).agents as Json[]).map((a) => a.agent_id)).not.toContain("dave-agent");
    // A Fleet agent is an account too, with a resolvable key.
    let acct: Json = {};
    for (let i = 0; i < 50 && !acct.account_id; i++) {
      acct = await d.request("registry.resolve_account", { username: "agent-beta" });
      if (!acct.account_id) await new Promise((r) => setTimeout(r, 100));
    }
    expect(acct.account_id).toMatch(/^acct_/);
    expect(await d.request("registry.resolve_key", { account_id: acct.account_id })).toHaveProperty("public_key");
    expect(((await d.request("registry.profile", { username: "agent-beta" })).profile as Json).account_id).toBe(acct.account_id);
    expect(((await d.request("registry.search", { query: "agent-b", limit: 5 })).results as Json[]).map((p) => p.username)).toContain("agent-beta");
    expect(await d.request("registry.resolve_account", { username: "nobody-here" })).toEqual({ error: "not_found" });
  });
});

describe.skipIf(!have)("agentnet <-> fleet", () => {
  it("a Realm message reaches the Fleet agent with receipts accepted then processed, its dev-auth signature checkable end to end", async () => {
    // Floats Python writes differently from JavaScript are covered against python3 in canonical-json.test.ts.
    const payload = { hello: "fleet", n: 1.5, u: "ü☃\u0001", nested: { b: [1, 2], a: null } };
    const r = await alice.sendToUsername("agent-beta", payload);
    expect(r?.status, JSON.stringify(r)).toMatch(/accepted|processed/);
    await until(() => betaInbox.some((e) => e.sender === "realm:alice"), 10_000, "the message at agent-beta");
    const env = betaInbox.find((e) => e.sender === "realm:alice")!;
    const app = env.body?.kind.case === "application" ? env.body.kind.value : undefined;
    expect(app?.mediaType).toBe(AGENTNET_ENVELOPE_MEDIA_TYPE);
    const opened = openAgentnetEnvelope(app!.content.value as string, alice.identity.publicKey);
    expect(opened.payload).toEqual(payload);
    await until(() => alice.receipts.some((x) => x.message_id === opened.message_id && x.status === "processed"), 5_000, "the processed receipt");
  });

  it("a Fleet agent's message reaches the Realm agent signed with a key registry.resolve_key returns", async () => {
    await beta.send({ to: "realm:alice", json: { task: 42, text: "hi ☃" }, requiresAck: true });
    await until(() => alice.inbox.length > 0 || alice.refused.length > 0, 10_000, "the message at alice");
    expect(alice.refused).toEqual([]);
    expect(alice.inbox[0]).toMatchObject({ from_agent: "agent-beta", to_agent: "alice-agent", payload: { task: 42, text: "hi ☃" }, schema_version: "1.1" });
  });

  it("an agentnet capability message reaches a Fleet agent offering that capability", async () => {
    const got: Envelope[] = [];
    const summarizer = await connectNats({ url: nats.url, identity: generateIdentity("summarizer"), capabilities: ["summarize"] });
    summarizer.onMessage((e) => got.push(e));
    try {
      for (let i = 0; i < 100 && !bridge.followedCapabilities().includes("summarize"); i++) {
        await bridge.followCapabilities();
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(bridge.followedCapabilities()).toContain("summarize");
      const r = await alice.sendToCapability("summarize", { text: "long story" });
      expect(r?.status).toMatch(/accepted|processed/);
      await until(() => got.some((e) => e.sender === "realm:alice"), 10_000, "the capability message");
      const env = got.find((e) => e.sender === "realm:alice")!;
      expect(env.recipient?.target).toEqual({ case: "capability", value: "summarize" });
      expect(openAgentnetEnvelope((env.body!.kind.value as { content: { value: string } }).content.value, alice.identity.publicKey).payload).toEqual({ text: "long story" });
    } finally {
      await summarizer.close();
    }
  });

  it("request/reply both ways", async () => {
    const reply = await alice.requestUsername("agent-beta", { q: "ping" });
    expect(reply).toMatchObject({ kind: "reply", payload: { echoed: { q: "ping" } }, from_agent: "agent-beta" });
    alice.handler = (p) => ({ pong: p });
    const answer = await beta.request({ to: "realm:alice", json: { ping: 1 } }, 8_000);
    expect(applicationValue(answer)).toEqual({ pong: { ping: 1 } });
  });
});

describe.skipIf(!have)("refusals at the bridge's inboxes", () => {
  let target = "";
  const send = async (over: Json) => {
    target ||= await alice.resolve("agent-beta");
    return alice.publish(target, alice.envelope(target, "agent-beta", { x: 1 }, over));
  };

  it("unsigned, forged, tampered and foreign-key messages get agentnet's auth codes", async () => {
    expect(await send({ auth: null })).toMatchObject({ status: "rejected", code: "auth_missing" });
    const tampered = alice.envelope((target ||= await alice.resolve("agent-beta")), "agent-beta", { x: 1 });
    (tampered as { payload: unknown }).payload = { x: 2 };
    expect(await alice.publish(target, tampered)).toMatchObject({ status: "rejected", code: "auth_claims_mismatch" });
    const other = new RealmClient(nats.url, { agentId: "alice-agent", name: "alice-agent", username: "alice", identity: generateIdentity("x") });
    (other as unknown as { sessionTag: string; accountId: string }).accountId = alice.accountId;
    const foreign = other.envelope(target, "agent-beta", { x: 1 });
    expect(await alice.publish(target, foreign)).toMatchObject({ status: "rejected", code: "auth_public_key_mismatch" });
    expect(await send({ from_account_id: "acct_unknown00000000000000000000" })).toBeUndefined(); // no receipt for an unknown account
  });

  it("expired, missing ttl, unsupported schema and duplicates", async () => {
    expect(await send({ sent_at: isoMicros(Date.now() - 120_000), expires_at: isoMicros(Date.now() - 60_000) })).toMatchObject({ status: "rejected", code: "expired" });
    expect(await send({ ttl_ms: null, expires_at: null })).toMatchObject({ status: "rejected", code: "missing_ttl" });
    expect(await send({ schema_version: "2.0" })).toMatchObject({ status: "rejected", code: "unsupported_schema_version" });
    const env = alice.envelope(target, "agent-beta", { once: newUlid() });
    await alice.publish(target, env);
    const settled = (id: unknown) => until(() => alice.receipts.some((r) => r.message_id === id && r.status !== "accepted"), 5_000, "the first delivery's outcome");
    await settled(env.message_id);
    expect(await alice.publish(target, env)).toMatchObject({ status: "rejected", code: "duplicate" });
    const idem = newUlid();
    const first = alice.envelope(target, "agent-beta", { x: 1 }, { idempotency_key: idem });
    await alice.publish(target, first);
    await settled(first.message_id);
    expect(await send({ idempotency_key: idem })).toMatchObject({ status: "rejected", code: "duplicate" });
  });

  it("rate-limits a sender at 5/s with bursts of 10", async () => {
    const rl = realm("rl-agent", "ratey");
    await rl.start();
    const t = await rl.resolve("agent-beta");
    const results = await Promise.all(Array.from({ length: 14 }, () => rl.publish(t, rl.envelope(t, "agent-beta", { n: 1 }))));
    expect(results.filter((r) => r?.code === "rate_limited").length).toBeGreaterThanOrEqual(2);
  });
});
