// Key revocation on NATS (spec/signing.md "Revocation"), on a real nats-server: the owner
// stores a KeyRevocation signed by the key in FLEET_KEYS; online peers apply it live, an
// agent connecting later applies it from history; the revoked key is refused (611) and never
// pinned again, and the owner recovers with a new key under the same name.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { applicationValue, buildEnvelope } from "../../runtime/client/draft.js";
import { systemClock } from "../../runtime/clock.js";
import { generateIdentity, signEnvelope, type Identity } from "../../runtime/crypto/index.js";
import { ErrorCode, type FleetError } from "../../runtime/errors.js";
import type { NatsFleetConnection } from "../../runtime/nats/connection.js";
import { subjects } from "../../runtime/nats/subjects.js";
import { hasNatsServer, natsSkipMessage } from "../support/nats-server.js";
import { natsAgents } from "./support/agents.js";

if (!hasNatsServer) console.warn(natsSkipMessage);

function inbox(conn: NatsFleetConnection): unknown[] {
  const seen: unknown[] = [];
  conn.onMessage((env) => seen.push(applicationValue(env)));
  return seen;
}

/** What an attacker holding the revoked key would publish to to's inbox. */
async function sendSignedBy(via: NatsFleetConnection, signer: Identity, to: string, text: string): Promise<void> {
  const env = buildEnvelope({ to, text }, signer.agent, systemClock);
  const packet = create(PacketSchema, { kind: { case: "signed", value: signEnvelope(env, signer) } });
  await via.carrier.publishDurable(subjects.agentInbox(to), packet, env.id, { publicKey: signer.publicKey });
}

describe.skipIf(!hasNatsServer)("NATS key revocation", () => {
  const join = natsAgents();

  it("peers online and later unbind the revoked key, refuse it with 611, and pin the owner's new key", async () => {
    const k0 = generateIdentity("rev-alice");
    const alice = await join("rev-alice", { identity: k0, registry: false });
    const bobRejects: FleetError[] = [];
    const bob = await join("rev-bob", { registry: false, onReject: (e) => bobRejects.push(e) });
    const toBob = inbox(bob);
    await alice.send({ to: "rev-bob", text: "before" });
    await expect.poll(() => toBob).toEqual(["before"]);
    expect(bob.keys.keyIdOf("rev-alice")).toBe(k0.keyId);

    const receipt = await alice.revokeKey(Date.now() - 5_000, "key leaked");
    expect(receipt.status).toBe(1); // ACCEPTED: stored
    await expect.poll(() => bob.keys.keyIdOf("rev-alice")).toBeUndefined();
    expect(bob.keys.revoked(k0.keyId)?.agent).toBe("rev-alice");

    // The attacker keeps the old key: what it signs is refused with 611, never pinned again.
    const mallory = await join("rev-mallory", { registry: false });
    await sendSignedBy(mallory, k0, "rev-bob", "forged with the leaked key");
    await expect.poll(() => bobRejects.map((e) => e.code)).toContain(ErrorCode.SECURITY_KEY_REVOKED);
    expect(toBob).toEqual(["before"]);
    expect(bob.keys.keyIdOf("rev-alice")).toBeUndefined();

    // An agent connecting now applies the revocation from FLEET_KEYS before it is connected.
    const carol = await join("rev-carol", { registry: false });
    expect(carol.keys.revoked(k0.keyId)?.agent).toBe("rev-alice");
    expect(carol.keys.keyIdOf("rev-alice")).toBeUndefined();

    // Recovery: the owner comes back with a new key; trust-on-first-use peers pin it.
    const k1 = generateIdentity("rev-alice");
    const alice2 = await join("rev-alice", { identity: k1, registry: false });
    await alice2.send({ to: "rev-bob", text: "after, with a new key" });
    await expect.poll(() => toBob).toEqual(["before", "after, with a new key"]);
    expect(bob.keys.keyIdOf("rev-alice")).toBe(k1.keyId);
  });
});
