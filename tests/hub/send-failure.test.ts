// A send that fails before anything is written (here: an envelope that cannot be encoded)
// rejects at once with its code and leaves no receipt pending to reject later, unhandled.
import { afterEach, describe, expect, it } from "vitest";
import { connectHub } from "../../runtime/client/hub-client.js";
import { createKeyRotation, generateIdentity } from "../../runtime/crypto/index.js";
import { ErrorCode, FleetError } from "../../runtime/errors.js";
import { cleanup, inProcessHub } from "./support.js";

afterEach(cleanup);

describe("client: a send that fails before writing", () => {
  it("rejects with the encoding error and cancels its receipt tracking", async () => {
    const running = await inProcessHub();
    const alpha = generateIdentity("alpha");
    const conn = await connectHub({ port: running.port, identity: alpha });
    const rotation = createKeyRotation(alpha, generateIdentity("alpha"), Date.now());
    rotation.newKeySignature = new Uint8Array(0); // "Required": fails validation when encoded
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      const err = await conn.send({ to: "fleet:hub", requiresAck: true, body: { case: "keyRotation", value: rotation } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FleetError);
      expect((err as FleetError).code).toBe(ErrorCode.VALIDATION_MISSING_FIELD);
      await conn.close();
      await new Promise((r) => setTimeout(r, 50)); // let any orphaned rejection surface
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      await running.close();
    }
  });
});
