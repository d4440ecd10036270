// The agent-swarm bridge over real HTTPS (a throwaway certificate made here with openssl),
// a real hub and Fleet agents: invites, join, signed messages both ways, the group as the
// swarm, and every refusal spec/bridges/swarm.md lists, persisted across a restart.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Envelope } from "../../../generated/proto/fleet/v1/envelope_pb.js";
import { connectHub } from "../../../runtime/client/hub-client.js";
import type { HubConnection } from "../../../runtime/client/connection.js";
import { generateIdentity } from "../../../runtime/crypto/index.js";
import { BridgeKeys } from "../../../runtime/bridges/shared/bridge-keys.js";
import { hubConnector } from "../../../runtime/bridges/shared/fleet-link.js";
import { startSwarmBridge, SWARM_MESSAGE_MEDIA_TYPE, type SwarmBridge } from "../../../runtime/bridges/swarm/bridge.js";
import { issueInviteToken, openSwarmMessage } from "../../../runtime/bridges/swarm/wire.js";
import { cleanup, inProcessHub, tmpDir, until } from "../../hub/support.js";
import { httpsJson, SwarmMember, type Json } from "./swarm-member.js";

let tls: { cert: string; key: string };
let bridge: SwarmBridge;
let beta: HubConnection;
let outsider: HubConnection;
const betaInbox: Envelope[] = [];
const outsiderInbox: Envelope[] = [];
const members: SwarmMember[] = [];
let hubPort = 0;
let stateFile = "";
const keys = BridgeKeys.ephemeral();
let alice: SwarmMember;

async function member(id: string): Promise<SwarmMember> {
  const m = new SwarmMember(id, tls);
  await m.listen();
  members.push(m);
  return m;
}

async function masterKey(): Promise<string> {
  const info = await httpsJson(`${bridge.masterEndpoint}/info`, tls.cert, "GET");
  return ((info.body.metadata as Json).swarms as Json[])[0]!.master_public_key as string;
}

beforeAll(async () => {
  const dir = tmpDir("swarm-tls-");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ed25519", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
  tls = { cert: readFileSync(join(dir, "cert.pem"), "utf8"), key: readFileSync(join(dir, "key.pem"), "utf8") };
  const hub = await inProcessHub();
  hubPort = hub.port;
  beta = await connectHub({ port: hub.port, identity: generateIdentity("agent-beta"), groups: ["crew"] });
  beta.onMessage((e) => betaInbox.push(e));
  outsider = await connectHub({ port: hub.port, identity: generateIdentity("outsider"), groups: ["other"] });
  outsider.onMessage((e) => outsiderInbox.push(e));
  stateFile = join(tmpDir("swarm-state-"), "swarms.json");
  bridge = await startSwarmBridge({ connect: hubConnector({ port: hub.port }), cert: tls.cert, key: tls.key, ca: tls.cert, swarms: [{ name: "crew", group: "crew" }], keys, stateFile });
  alice = await member("alice");
});

afterAll(async () => {
  for (const m of members) await m.close();
  await beta?.close();
  await outsider?.close();
  await bridge?.close();
  await cleanup();
});

describe("agent-swarm members at the bridge", () => {
  it("serves health and info", async () => {
    const h = await httpsJson(`${bridge.masterEndpoint}/health`, tls.cert, "GET");
    expect(h).toMatchObject({ status: 200, body: { status: "healthy", protocol_version: "0.1.0" } });
    const info = await httpsJson(`${bridge.fleetEndpoint("agent-beta")}/info`, tls.cert, "GET");
    expect(info.body).toMatchObject({ agent_id: "agent-beta", endpoint: bridge.fleetEndpoint("agent-beta"), protocol_version: "0.1.0" });
    expect(Buffer.from(info.body.public_key as string, "base64").length).toBe(32);
  });

  it("joins with a signed invite; the member list holds the group's Fleet agents", async () => {
    const r = await alice.join(bridge.invite("crew", { maxUses: 1 }), await masterKey(), tls.cert);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: "accepted", swarm_name: "crew" });
    expect((r.body.members as Json[]).map((m) => m.agent_id)).toEqual(expect.arrayContaining(["fleet-bridge", "agent-beta", "alice"]));
    expect((r.body.members as Json[]).map((m) => m.agent_id)).not.toContain("outsider");
  });

  it("a signed message to a Fleet agent's endpoint reaches it, its signature checkable end to end", async () => {
    const msg = alice.build("agent-beta", "hello fleet ☃");
    expect(await alice.sendTo("agent-beta", msg, tls.cert)).toMatchObject({ status: 200, body: { status: "queued", message_id: msg.message_id } });
    await until(() => betaInbox.some((e) => e.sender === "swarm:alice"), 10_000, "the message at agent-beta");
    const env = betaInbox.find((e) => e.sender === "swarm:alice")!;
    const app = env.body?.kind.case === "application" ? env.body.kind.value : undefined;
    expect(app?.mediaType).toBe(SWARM_MESSAGE_MEDIA_TYPE);
    expect(openSwarmMessage(app!.content.value as string, alice.identity.publicKey)).toMatchObject({ content: "hello fleet ☃", message_id: msg.message_id });
    // The same message_id again: 200, delivered once.
    expect((await alice.sendTo("agent-beta", msg, tls.cert)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(betaInbox.filter((e) => e.sender === "swarm:alice").length).toBe(1);
  });

  it("a Fleet agent's message (direct, and to the group) reaches the member signed by a key in the member list", async () => {
    await beta.send({ to: "swarm:alice", text: "hi alice", requiresAck: true });
    await until(() => alice.received.some((m) => m.content === "hi alice"), 10_000, "the direct message");
    const direct = alice.received.find((m) => m.content === "hi alice")!;
    expect(direct).toMatchObject({ recipient: "alice", type: "message", sender: { agent_id: "agent-beta", endpoint: bridge.fleetEndpoint("agent-beta") }, swarm_id: alice.swarmId });
    expect(alice.verified(direct)).toBe(true);
    await beta.send({ to: "group:crew", json: { all: "hands" } });
    await until(() => alice.received.some((m) => m.content === '{"all":"hands"}'), 10_000, "the group message");
    expect(alice.received.find((m) => m.content === '{"all":"hands"}')!.recipient).toBe("broadcast");
  });

  it("refuses a Fleet agent outside the group", async () => {
    const before = alice.received.length;
    const err = await outsider.request({ to: "swarm:alice", text: "let me in" }, 8_000).catch((e) => e);
    expect(err).toMatchObject({ code: 603 });
    expect(alice.received.length).toBe(before);
  });
});

describe("refusals", () => {
  it("enforces invite use limits, expiry and signatures", async () => {
    const used = bridge.invite("crew", { maxUses: 1 });
    const bob = await member("bob");
    expect((await bob.join(used, undefined, tls.cert)).status).toBe(200);
    const carol = await member("carol");
    expect(await carol.join(used, undefined, tls.cert)).toMatchObject({ status: 401, body: { error: { code: "TOKEN_EXHAUSTED" } } });
    expect(await carol.join(bridge.invite("crew", { expiresAt: Date.now() - 1_000 }), undefined, tls.cert)).toMatchObject({ status: 401, body: { error: { code: "TOKEN_EXPIRED" } } });
    const forged = issueInviteToken({ swarm_id: bridge.swarmId("crew")!, master: "x", endpoint: bridge.masterEndpoint, iat: 0 }, generateIdentity("mallory"));
    expect(await carol.join(`swarm://${bridge.swarmId("crew")}@x?token=${forged}`, undefined, tls.cert)).toMatchObject({ status: 401, body: { error: { code: "INVALID_SIGNATURE" } } });
    const garbled = await httpsJson(`${bridge.masterEndpoint}/join`, tls.cert, "POST", { type: "system", action: "join_request", invite_token: "a.b", sender: { agent_id: "carol", endpoint: carol.endpoint, public_key: carol.publicKey } });
    expect(garbled).toMatchObject({ status: 400, body: { error: { code: "INVALID_TOKEN" } } });
    // alice's agent_id with another key
    const fake = new SwarmMember("alice", tls);
    (fake as unknown as { endpoint: string }).endpoint = "https://127.0.0.1:1/alice";
    expect(await fake.join(bridge.invite("crew"), undefined, tls.cert)).toMatchObject({ status: 409 });
  });

  it("refuses unsigned, non-member, unknown-swarm, expired, skewed and misaddressed messages", async () => {
    const to = `${bridge.fleetEndpoint("agent-beta")}/message`;
    const zero = { ...alice.build("agent-beta", "x"), signature: Buffer.alloc(64).toString("base64") };
    expect(await httpsJson(to, tls.cert, "POST", zero)).toMatchObject({ status: 401, body: { error: { code: "INVALID_SIGNATURE" } } });
    const stranger = new SwarmMember("stranger", tls);
    stranger.swarmId = alice.swarmId;
    expect(await httpsJson(to, tls.cert, "POST", stranger.build("agent-beta", "x"))).toMatchObject({ status: 403, body: { error: { code: "NOT_AUTHORIZED" } } });
    expect(await httpsJson(to, tls.cert, "POST", alice.build("agent-beta", "x", { swarm_id: "00000000-0000-4000-8000-000000000000" }))).toMatchObject({ status: 404, body: { error: { code: "SWARM_NOT_FOUND" } } });
    expect(await httpsJson(to, tls.cert, "POST", alice.build("agent-beta", "x", { expires_at: new Date(Date.now() - 3_600_000).toISOString() }))).toMatchObject({ status: 400, body: { error: { code: "MESSAGE_EXPIRED" } } });
    expect(await httpsJson(to, tls.cert, "POST", alice.build("agent-beta", "x", { timestamp: new Date(Date.now() - 3_600_000).toISOString() }))).toMatchObject({ status: 400, body: { error: { code: "CLOCK_SKEW" } } });
    expect(await httpsJson(to, tls.cert, "POST", alice.build("bob", "x"))).toMatchObject({ status: 400, body: { error: { code: "INVALID_RECIPIENT" } } });
    expect(await httpsJson(`${bridge.fleetEndpoint("outsider")}/message`, tls.cert, "POST", alice.build("outsider", "x"))).toMatchObject({ status: 404 });
    expect(await httpsJson(to, tls.cert, "POST", { hello: 1 })).toMatchObject({ status: 400, body: { error: { code: "INVALID_FORMAT" } } });
  });

  it("keeps members and invite uses across a restart", async () => {
    const used = bridge.invite("crew", { maxUses: 1 });
    const dave = await member("dave");
    expect((await dave.join(used, undefined, tls.cert)).status).toBe(200);
    const port = bridge.port;
    await bridge.close();
    bridge = await startSwarmBridge({ connect: hubConnector({ port: hubPort }), cert: tls.cert, key: tls.key, ca: tls.cert, swarms: [{ name: "crew", group: "crew" }], keys, stateFile, port });
    const erin = await member("erin");
    expect(await erin.join(used, undefined, tls.cert)).toMatchObject({ status: 401, body: { error: { code: "TOKEN_EXHAUSTED" } } });
    const msg = alice.build("agent-beta", "after restart");
    expect((await httpsJson(`${bridge.fleetEndpoint("agent-beta")}/message`, tls.cert, "POST", msg)).status).toBe(200);
    await until(() => betaInbox.some((e) => e.sender === "swarm:alice" && String((e.body?.kind.value as { content: { value: string } }).content.value).includes("after restart")), 10_000, "the message after the restart");
  });
});
