// Key rotation at the hub: a KeyRotation signed by the pinned key and proven by the new key
// moves the binding durably (across a restart) and the registry record; the old key is then
// refused. A statement by the wrong old key, or without the new key's possession signature,
// is refused with 607 and changes nothing.
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { createKeyRotation, generateIdentity, type Identity } from "../../runtime/crypto/index.js";
import { ErrorCode, FleetError, isFleetError } from "../../runtime/errors.js";
import { cleanup, inProcessHub, tmpDir, until } from "./support.js";

afterEach(cleanup);

const rotationDraft = (oldId: Identity, newId: Identity) => ({ to: "fleet:hub", requiresAck: true, body: { case: "keyRotation" as const, value: createKeyRotation(oldId, newId, Date.now()) } });

describe("hub: key rotation", () => {
  it("moves the pinned binding and the registry record to the new key, durably; the old key is refused", async () => {
    const storeDir = join(tmpDir(), "hub");
    const hubId = generateIdentity("fleet-hub");
    const oldId = generateIdentity("alpha");
    const newId = generateIdentity("alpha");
    let running = await inProcessHub({ storeDir, identity: hubId });
    const alpha = await connectHub({ port: running.port, identity: oldId });
    const closed = new Promise<void>((r) => alpha.onClose(() => r()));
    const receipt = await alpha.send(rotationDraft(oldId, newId));
    expect(receipt?.status).toBe(ReceiptStatus.ACCEPTED);
    await closed; // the connection authenticated by the old key ends with the rotation
    expect(running.hub.pins.keyIdOf("alpha")).toBe(newId.keyId);
    await running.close();

    running = await inProcessHub({ storeDir, identity: hubId });
    expect(running.hub.pins.keyIdOf("alpha")).toBe(newId.keyId);
    expect(running.hub.registry.agent("alpha")?.keyId).toBe(newId.keyId);
    await expect(connectHub({ port: running.port, identity: oldId })).rejects.toSatisfy((e: unknown) => isFleetError(e) && [ErrorCode.SECURITY_KEY_MISMATCH, ErrorCode.HANDSHAKE_AUTH_FAILED].includes(e.code));
    const again = await connectHub({ port: running.port, identity: newId });
    const beta = await connectHub({ port: running.port, identity: generateIdentity("beta") });
    const got: { text: unknown; verified: boolean }[] = [];
    beta.onMessage((env, meta) => got.push({ text: env.body?.kind.case, verified: meta.verified }));
    await again.send({ to: "beta", text: "signed by the new key", requiresAck: true });
    await until(() => got.length === 1, 5_000, "delivery signed by the new key");
    expect(got[0].verified).toBe(true);
    const found = await beta.queryRegistry({ agentId: "alpha" });
    expect(found.agents[0]?.keyId).toBe(newId.keyId);
    await again.close();
    await beta.close();
  });

  it("refuses a rotation stated for another old key (607) and keeps the binding", async () => {
    const running = await inProcessHub();
    const oldId = generateIdentity("alpha");
    const alpha = await connectHub({ port: running.port, identity: oldId });
    // Signed by alpha's pinned key, but the statement claims an old key alpha never had.
    const impostor = generateIdentity("alpha");
    const err = await alpha.send(rotationDraft(impostor, generateIdentity("alpha"))).catch((e: unknown) => e);
    expect((err as FleetError).code).toBe(ErrorCode.SECURITY_KEY_MISMATCH);
    expect(running.hub.pins.keyIdOf("alpha")).toBe(oldId.keyId);
    expect(running.hub.registry.agent("alpha")?.keyId).toBe(oldId.keyId);
    // Still bound and usable with the old key.
    expect(running.hub.isOnline("alpha")).toBe(true);
    expect((await alpha.queryRegistry({ agentId: "alpha" })).agents[0]?.keyId).toBe(oldId.keyId);
    await alpha.close();
  });

  it("refuses a rotation without the new key's possession signature (607) and keeps the binding", async () => {
    const running = await inProcessHub();
    const oldId = generateIdentity("alpha");
    const alpha = await connectHub({ port: running.port, identity: oldId });
    const draft = rotationDraft(oldId, generateIdentity("alpha"));
    draft.body.value.newKeySignature = new Uint8Array(64);
    const err = await alpha.send(draft).catch((e: unknown) => e);
    expect((err as FleetError).code).toBe(ErrorCode.SECURITY_KEY_MISMATCH);
    expect(running.hub.pins.keyIdOf("alpha")).toBe(oldId.keyId);
    await alpha.close();
    // The old key still connects: nothing moved.
    const back = await connectHub({ port: running.port, identity: oldId });
    await back.close();
  });

  it("refuses a rotation sent through the session instead of signed by the old key (607)", async () => {
    const running = await inProcessHub();
    const oldId = generateIdentity("alpha");
    const alpha = await connectHub({ port: running.port, identity: oldId });
    const err = await alpha.send({ ...rotationDraft(oldId, generateIdentity("alpha")), sign: false }).catch((e: unknown) => e);
    expect((err as FleetError).code).toBe(ErrorCode.SECURITY_KEY_MISMATCH);
    expect(running.hub.pins.keyIdOf("alpha")).toBe(oldId.keyId);
    await alpha.close();
  });
});
