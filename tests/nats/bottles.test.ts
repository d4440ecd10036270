// Bottles held by JetStream (FLEET_BOTTLES) until their condition holds at the recipient,
// delivered once, with signed receipts to the origin.
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BottleStatus } from "../../generated/proto/fleet/v1/bottle_pb.js";
import { MessageType, type Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ApplicationPayloadSchema } from "../../generated/proto/fleet/v1/payload_pb.js";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { systemClock } from "../../runtime/clock.js";
import { generateIdentity, type Identity } from "../../runtime/crypto/index.js";
import { connectNats, type NatsFleetConnection } from "../../runtime/nats/connection.js";
import { createBottle } from "../../runtime/protocol/bottles.js";
import { hasNatsServer, natsSkipMessage, startNatsServer, type NatsServerHandle } from "../support/nats-server.js";

if (!hasNatsServer) console.warn(natsSkipMessage);

const fast = { syncIntervalMs: 100, heartbeatMs: 100 };
const payload = (text: string) => create(ApplicationPayloadSchema, { mediaType: "text/plain", content: { case: "json", value: JSON.stringify(text) } });

describe.skipIf(!hasNatsServer)("bottles over NATS", () => {
  let server: NatsServerHandle;
  const open: NatsFleetConnection[] = [];
  const join = async (identity: Identity) => {
    const c = await connectNats({ url: server.url, identity, registry: fast });
    open.push(c);
    return c;
  };
  const drop = (from: NatsFleetConnection, identity: Identity, to: string, condition: string, bottleId: string) =>
    from.send({ to: "fleet:hub", type: MessageType.COMMAND, requiresAck: true, body: { case: "bottle", value: createBottle(identity, systemClock, { bottleId, to: { agent: to }, condition, payload: payload(bottleId) }) } });
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    for (const c of open) await c.close();
    await server?.stop();
  });

  it("holds a bottle until its condition holds, delivers the origin's letter once, and reports ACKNOWLEDGED", async () => {
    const originId = generateIdentity("bottle-origin");
    const origin = await join(originId);
    const statuses: BottleStatus[] = [];
    origin.onMessage((env) => {
      if (env.body?.kind.case === "bottleReceipt") statuses.push(env.body.kind.value.status);
    });
    const recipient = await join(generateIdentity("bottle-recipient"));
    const letters: Envelope[] = [];
    recipient.onMessage((env) => letters.push(env));

    const receipt = await drop(origin, originId, "bottle-recipient", "agent_online:bottle-helper", "b-1");
    expect(receipt?.status).toBe(ReceiptStatus.ACCEPTED);
    // The same bottle again: JetStream drops it by id.
    await drop(origin, originId, "bottle-recipient", "agent_online:bottle-helper", "b-1");
    await new Promise((r) => setTimeout(r, 500));
    expect(letters).toEqual([]); // helper is not online: still stored

    await join(generateIdentity("bottle-helper"));
    await expect.poll(() => letters.length, { timeout: 10_000 }).toBe(1);
    expect(letters[0].sender).toBe("bottle-origin");
    expect(letters[0].body?.kind.case).toBe("bottleLetter");
    await expect.poll(() => statuses, { timeout: 5_000 }).toEqual([BottleStatus.ACKNOWLEDGED]);
    await new Promise((r) => setTimeout(r, 300));
    expect(letters).toHaveLength(1);
  });

  it("keeps a bottle for an offline recipient and delivers it when it connects", async () => {
    const originId = generateIdentity("bottle-origin-2");
    const origin = await join(originId);
    await drop(origin, originId, "bottle-sleeper", "always", "b-2");
    const sleeper = await join(generateIdentity("bottle-sleeper"));
    const letters: Envelope[] = [];
    sleeper.onMessage((env) => letters.push(env));
    await expect.poll(() => letters.length, { timeout: 10_000 }).toBe(1);
  });

  it("refuses a bottle for a group (709)", async () => {
    const originId = generateIdentity("bottle-origin-3");
    const origin = await join(originId);
    const bottle = createBottle(originId, systemClock, { to: { $typeName: "fleet.v1.Recipient", target: { case: "group", value: "ops" } }, payload: payload("x") });
    await expect(origin.send({ to: "fleet:hub", body: { case: "bottle", value: bottle } })).rejects.toMatchObject({ code: 709 });
  });
});
