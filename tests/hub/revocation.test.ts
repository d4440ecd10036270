// Key revocation at the hub (spec/signing.md "Revocation"): the owner revokes its key with a
// statement signed by that key; the hub unbinds the name durably, refuses the key from then
// on (611), across restarts, and re-admits the name only with a token bound to a new key.
import { afterEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { connectHub } from "../../runtime/client/hub-client.js";
import { createKeyRevocation, generateIdentity, issueToken, PinnedKeys } from "../../runtime/crypto/index.js";
import { ErrorCode, isFleetError } from "../../runtime/errors.js";
import { HUB_CONNECT_SCOPE, hubAudience } from "../../runtime/hub/options.js";
import { cleanup, inProcessHub, tmpDir, until } from "./support.js";

afterEach(cleanup);

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => "admitted",
    (e: unknown) => (isFleetError(e) ? `${e.code} ${e.message}` : String(e)),
  );

describe("hub: key revocation", () => {
  it("unbinds a revoked key for good and re-admits its owner only with a token bound to the new key", async () => {
    const hubId = generateIdentity("fleet-hub");
    const storeDir = join(tmpDir("fleet-hub-"), "hub");
    const running = await inProcessHub({ identity: hubId, storeDir });
    const k0 = generateIdentity("alpha");
    const alpha = await connectHub({ port: running.port, identity: k0 });
    const closed = new Promise<void>((r) => alpha.onClose(() => r()));
    const effectiveAt = Date.now() - 60_000;
    const receipt = await alpha.send({ to: "fleet:hub", requiresAck: true, body: { case: "keyRevocation", value: createKeyRevocation(k0, effectiveAt, "laptop stolen") } });
    expect(receipt?.status).toBe(1); // ACCEPTED
    await closed;
    expect(running.hub.pins.keyIdOf("alpha")).toBeUndefined();
    expect(running.hub.pins.revoked(k0.keyId)?.effectiveAt).toBe(effectiveAt);
    expect(running.hub.registry.agent("alpha")).toBeUndefined();
    // The revoked key: refused (611). (The agent knows the hub's key, so it can read the hub's signed ERROR.)
    const hubKeys = () => ((k) => (k.pin(hubId.agent, hubId.publicKey), k))(new PinnedKeys());
    expect(await refusal(connectHub({ port: running.port, identity: k0, keys: hubKeys() }))).toMatch(/^611 .*revoked/);
    // A new key under the name: not on first use, even on this open hub...
    const k1 = generateIdentity("alpha");
    expect(await refusal(connectHub({ port: running.port, identity: k1 }))).toMatch(/admission token/);
    // ...only with an admission token the hub bound to the new key.
    const token = issueToken({ subject: "alpha", audience: hubAudience(hubId), scopes: [HUB_CONNECT_SCOPE], holderKeyId: k1.keyId, maxUses: 1 }, hubId);
    const again = await connectHub({ port: running.port, identity: k1, admissionToken: token });
    await until(() => running.hub.pins.keyIdOf("alpha") === k1.keyId, 5_000, "alpha re-enrolled");
    await again.close();
    // Across a restart the revocation holds.
    await running.close();
    const restarted = await inProcessHub({ identity: hubId, storeDir });
    expect(restarted.hub.pins.revoked(k0.keyId)?.agent).toBe("alpha");
    expect(restarted.hub.pins.keyIdOf("alpha")).toBe(k1.keyId);
    expect(await refusal(connectHub({ port: restarted.port, identity: k0, keys: hubKeys() }))).toMatch(/^611 .*revoked/);
  });

  it("refuses a revocation not signed by the key it names (607) and changes nothing", async () => {
    const running = await inProcessHub();
    const k0 = generateIdentity("beta");
    const other = generateIdentity("beta");
    const beta = await connectHub({ port: running.port, identity: k0 });
    const code = await beta.send({ to: "fleet:hub", requiresAck: true, body: { case: "keyRevocation", value: createKeyRevocation(other, Date.now()) } }).then(
      () => 0,
      (e: unknown) => (isFleetError(e) ? e.code : -1),
    );
    expect(code).toBe(ErrorCode.SECURITY_KEY_MISMATCH);
    expect(running.hub.pins.keyIdOf("beta")).toBe(k0.keyId);
    await beta.close();
  });
});
