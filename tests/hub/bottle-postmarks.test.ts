// The hub is a hop for the bottles it holds (spec/bottles.md): it verifies earlier relays'
// postmarks, refuses a bottle past its letter's max_hops (807), and adds its own signed
// postmark, which the recipient verifies before it sees the letter.
import { create, fromBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { BottleSchema, type Bottle } from "../../generated/proto/fleet/v1/bottle_pb.js";
import { ApplicationPayloadSchema, type ApplicationPayload } from "../../generated/proto/fleet/v1/payload_pb.js";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import type { HubConnection } from "../../runtime/client/connection.js";
import { applicationValue } from "../../runtime/client/draft.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { systemClock } from "../../runtime/clock.js";
import { parseEnvelope } from "../../runtime/crypto/envelope-bytes.js";
import { generateIdentity, PinnedKeys, type Identity } from "../../runtime/crypto/index.js";
import { ErrorCode, isFleetError } from "../../runtime/errors.js";
import { stampBottle, verifyPostmarks } from "../../runtime/protocol/bottle-postmark.js";
import { createBottle, type NewBottle } from "../../runtime/protocol/bottles.js";
import { cleanup, inProcessHub, until } from "./support.js";

afterEach(cleanup);

const payload = (v: unknown): ApplicationPayload => create(ApplicationPayloadSchema, { mediaType: "application/json", content: { case: "json", value: JSON.stringify(v) } });

async function fleet(hubId: Identity) {
  const running = await inProcessHub({ identity: hubId });
  const alphaId = generateIdentity("alpha");
  const alpha = await connectHub({ port: running.port, identity: alphaId });
  const beta = await connectHub({ port: running.port, identity: generateIdentity("beta") });
  const bottle = (v: unknown, extra: Partial<NewBottle> = {}) => createBottle(alphaId, systemClock, { to: { agent: "beta" }, condition: "always", payload: payload(v), ...extra });
  return { running, alphaId, alpha, beta, bottle };
}

const bottleIdOf = (b: Bottle): string => {
  const env = parseEnvelope(b.letter!.payload, b.letter!.payloadType);
  if (env.body?.kind.case !== "bottleLetter") throw new Error("not a letter");
  return env.body.kind.value.bottleId;
};

const drop = (alpha: HubConnection, bottle: Bottle) => alpha.send({ to: "fleet:hub", body: { case: "bottle", value: bottle }, requiresAck: true });

describe("hub: bottle postmarks and hop limit", () => {
  it("stamps its own postmark (hop 1, signed by the hub) and the recipient still gets the verified letter", async () => {
    const hubId = generateIdentity("fleet-hub");
    const { running, alpha, beta, bottle } = await fleet(hubId);
    const got: unknown[] = [];
    beta.onMessage((env, meta) => got.push({ value: applicationValue(env), verified: meta.verified }));
    const b = bottle({ note: "hi" });
    expect((await drop(alpha, b))?.status).toBe(ReceiptStatus.ACCEPTED);
    await until(() => got.length === 1, 5_000, "bottle delivery");
    expect(got).toEqual([{ value: { note: "hi" }, verified: true }]);
    const stored = fromBinary(BottleSchema, running.hub.store.getBottle("alpha", bottleIdOf(b))!.bottle);
    expect(stored.postmarks.map((p) => [p.relay, p.hop, p.keyId])).toEqual([[hubId.agent, 1, hubId.keyId]]);
    const keys = new PinnedKeys();
    keys.pin(hubId.agent, hubId.publicKey);
    expect(() => verifyPostmarks(stored, bottleIdOf(b), keys)).not.toThrow();
  });

  it("refuses a bottle that has used up its hops (807) and one whose earlier postmark is forged (601); nothing is delivered", async () => {
    const { alphaId, alpha, beta, bottle } = await fleet(generateIdentity("fleet-hub"));
    const got: unknown[] = [];
    beta.onMessage((env) => got.push(env));
    // alpha's key is pinned at the hub, so a postmark by alpha verifies there: one hop used of one.
    const relayed = (b: Bottle) => stampBottle(b, bottleIdOf(b), alphaId, Date.now());
    await expect(drop(alpha, relayed(bottle(1, { maxHops: 1 })))).rejects.toSatisfy((e: unknown) => isFleetError(e, ErrorCode.DELIVERY_HOP_LIMIT));
    const forged = relayed(bottle(2));
    forged.postmarks[0].signature[0] ^= 1;
    await expect(drop(alpha, forged)).rejects.toSatisfy((e: unknown) => isFleetError(e, ErrorCode.SECURITY_SIGNATURE_INVALID));
    // A round trip on beta's connection: anything delivered before would be here by now.
    await beta.queryRegistry({});
    expect(got).toEqual([]);
  });
});
