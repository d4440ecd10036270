// The carrier on a real nats-server: core pub/sub of Packets, durable publish and
// consume, and no durable message lost when the server restarts mid-traffic.
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PacketSchema, SignatureScheme, type Packet } from "../../generated/proto/fleet/v1/signed_pb.js";
import { ErrorCode, FleetError } from "../../runtime/errors.js";
import { NatsCarrier } from "../../runtime/nats/carrier.js";
import { subjects } from "../../runtime/nats/subjects.js";
import { hasNatsServer, natsSkipMessage, startNatsServer, type NatsServerHandle } from "../support/nats-server.js";

if (!hasNatsServer) console.warn(natsSkipMessage);

const packet = (n: number) =>
  create(PacketSchema, {
    kind: { case: "signed", value: { payloadType: "application/vnd.fleet.v1.envelope+proto", payload: new TextEncoder().encode(String(n)), signature: { scheme: SignatureScheme.ED25519, keyId: "k", sig: new Uint8Array(64) } } },
  });
const numberOf = (p: Packet) => Number(new TextDecoder().decode(p.kind.value!.payload));

function waitFor(cond: () => boolean, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const end = Date.now() + ms;
    const tick = () => (cond() ? resolve() : Date.now() > end ? reject(new Error("timed out")) : setTimeout(tick, 20));
    tick();
  });
}

describe.skipIf(!hasNatsServer)("NatsCarrier", () => {
  let server: NatsServerHandle;
  beforeAll(async () => {
    server = await startNatsServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("carries Packets over core subjects and reports undecodable messages", async () => {
    const a = await NatsCarrier.connect({ servers: server.url });
    const got: number[] = [];
    const rejected: number[] = [];
    const off = a.subscribe(subjects.broadcast(), (p) => void got.push(numberOf(p)), (e) => void rejected.push(e.code));
    a.publish(subjects.broadcast(), packet(7));
    a.nc.publish(subjects.broadcast(), new Uint8Array([1, 2, 3])); // no Content-Type
    await a.flush();
    await waitFor(() => got.length === 1 && rejected.length === 1, 5_000);
    expect(got).toEqual([7]);
    expect(rejected).toEqual([ErrorCode.WIRE_UNSUPPORTED_PAYLOAD_TYPE]);
    off();
    await a.close();
  });

  it("terminates a durable message the handler refuses, and acks the rest", async () => {
    const c = await NatsCarrier.connect({ servers: server.url });
    await c.publishDurable(subjects.agentInbox("picky"), packet(1), "picky-1");
    await c.publishDurable(subjects.agentInbox("picky"), packet(2), "picky-2");
    const got: number[] = [];
    const refused: number[] = [];
    const stop = await c.consumeDurable("inbox", "picky", (p) => {
      if (numberOf(p) === 1) throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, "bad");
      got.push(numberOf(p));
    }, (e) => void refused.push(e.code));
    await waitFor(() => got.length === 1 && refused.length === 1, 5_000);
    expect(refused).toEqual([ErrorCode.SECURITY_SIGNATURE_INVALID]);
    await stop();
    await c.close();
  });

  it("loses no durable message when nats-server restarts mid-traffic", async () => {
    const total = 150;
    const sender = await NatsCarrier.connect({ servers: server.url });
    const receiver = await NatsCarrier.connect({ servers: server.url });
    const seen = new Set<number>();
    const stop = await receiver.consumeDurable("inbox", "restart-target", (p) => void seen.add(numberOf(p)), () => {});
    let reconnects = 0;
    let disconnects = 0;
    void (async () => {
      for await (const s of sender.nc.status()) {
        if (s.type === "reconnect") reconnects++;
        if (s.type === "disconnect") disconnects++;
      }
    })();
    let restarted: Promise<void> | undefined;
    for (let i = 0; i < total; i++) {
      if (i === 50) {
        restarted = server.restart();
        // Keep publishing into the outage: these must be retried until stored.
        await waitFor(() => disconnects > 0, 10_000);
      }
      await sender.publishDurable(subjects.agentInbox("restart-target"), packet(i), `restart-${i}`);
    }
    await restarted;
    await waitFor(() => seen.size === total, 20_000);
    // The restart really happened while the sender was publishing.
    expect(reconnects).toBeGreaterThanOrEqual(1);
    expect([...seen].sort((x, y) => x - y)).toEqual(Array.from({ length: total }, (_, i) => i));
    await stop();
    await sender.close();
    await receiver.close();
  });
});
