// Coordination costs: what anti-entropy costs when replicas agree (one hash) versus a full
// snapshot, a complete signed handshake, and a bottle through a relay.
import { create } from "@bufbuild/protobuf";
import { ApplicationPayloadSchema } from "../../generated/proto/fleet/v1/payload_pb.js";
import { FakeClock } from "../../runtime/clock.js";
import { generateIdentity, PinnedKeys, StaticKeys } from "../../runtime/crypto/index.js";
import { BottleEngine, createBottle } from "../../runtime/protocol/bottles.js";
import { HandshakeInitiator, HandshakeResponder } from "../../runtime/protocol/handshake.js";
import { RegistryReplica } from "../../runtime/protocol/registry.js";
import { type BenchRow, type BenchSuite, opsPerSecond } from "../harness.js";

const ENTRIES = 1_000;

function filled(node: string, clock: FakeClock): RegistryReplica {
  const r = new RegistryReplica({ node, clock });
  for (let i = 0; i < ENTRIES; i++) r.putAgent({ agentId: `agent-${i}`, keyId: `ed25519:${i}`, capabilities: [{ name: "compute" }], endpoints: ["tcp://127.0.0.1:7420"] });
  return r;
}

export const suite: BenchSuite = {
  name: "protocol",
  async run(): Promise<BenchRow[]> {
    const clock = new FakeClock();
    const a = filled("hub-a", clock);
    const b = new RegistryReplica({ node: "hub-b", clock });
    b.merge(a.entries());
    const snapshot = a.snapshot();
    const fullSync = opsPerSecond(() => new RegistryReplica({ node: "fresh", clock }).receive({ case: "registrySnapshot", value: snapshot }), { batch: 1, minMs: 700 });
    const inSync = opsPerSecond(() => {
      if (b.receive({ case: "registryDigest", value: a.digest() }).length) throw new Error("replicas differ");
    }, { batch: 5 });

    const agent = generateIdentity("agent");
    const hub = generateIdentity("hub");
    const handshakes = opsPerSecond(() => {
      const i = new HandshakeInitiator({ identity: agent, keys: new PinnedKeys(), clock });
      const r = new HandshakeResponder({ identity: hub, hub: true, keys: new PinnedKeys(), clock });
      const w = r.receive(i.start());
      const c = i.receive(w.send!);
      if (!r.receive(c.send!).established) throw new Error("handshake failed");
    }, { batch: 10 });

    const keys = new StaticKeys([agent, hub]);
    const engine = new BottleEngine({ identity: hub, keys, clock, world: { isOnline: () => true, hasCapability: () => true }, deliver: () => true, sendReceipt: () => {} });
    const payload = create(ApplicationPayloadSchema, { mediaType: "application/json", content: { case: "json", value: "{}" } });
    const bottles = opsPerSecond(() => engine.accept(createBottle(agent, clock, { to: { agent: "agent" }, payload })), { batch: 20, minMs: 500 });

    return [
      { suite: "protocol", name: `registry full snapshot merge (${ENTRIES} entries)`, rate: fullSync, unit: "ops/s" },
      { suite: "protocol", name: `registry in-sync digest exchange (${ENTRIES} entries)`, rate: inSync, unit: "ops/s", anchor: `registry full snapshot merge (${ENTRIES} entries)`, goal: { min: 10, on: "ratio" } },
      { suite: "protocol", name: "handshake (3 signed steps, both sides)", rate: handshakes, unit: "ops/s" },
      { suite: "protocol", name: "bottle sign + accept + deliver + receipts", rate: bottles, unit: "ops/s" },
    ];
  },
};
