// The hub takes registry writes only from their owners (spec/registry.md "Owners"): an
// agent's RegistryDelta must hold its own entry, signed by the key of its connection.
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { ReceiptStatus } from "../../generated/proto/fleet/v1/receipt_pb.js";
import { RegistryDeltaSchema, RegistryEntrySchema, type RegistryEntry } from "../../generated/proto/fleet/v1/registry_pb.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { ErrorCode, isFleetError } from "../../runtime/errors.js";
import { signRegistryEntry } from "../../runtime/protocol/registry-owner.js";
import { cleanup, inProcessHub, until } from "./support.js";

afterEach(cleanup);

describe("hub: registry writes", () => {
  it("registers an agent's own signed entry, and refuses unsigned or foreign-signed ones with their codes", async () => {
    const hub = await inProcessHub();
    const alpha = generateIdentity("alpha");
    const other = generateIdentity("alpha");
    // connectHub sends alpha's own signed entry (groups given): it lands.
    const c = await connectHub({ port: hub.port, identity: alpha, groups: ["ops"] });
    await until(() => hub.hub.registry.agent("alpha")?.groups.includes("ops") ?? false, 5_000, "alpha registered");
    const entry = (groups: string[]): RegistryEntry =>
      create(RegistryEntrySchema, { key: "agent/alpha", version: { wallMs: BigInt(Date.now()), logical: 0, node: "alpha" }, record: { case: "agent", value: { agentId: "alpha", keyId: alpha.keyId, groups } }, causal: [{ node: "alpha", count: 1n }] });
    const send = (e: RegistryEntry) => c.send({ to: "fleet:hub", type: MessageType.COMMAND, requiresAck: true, body: { case: "registryDelta", value: create(RegistryDeltaSchema, { node: "alpha", entries: [e] }) } });
    const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => (isFleetError(e) ? e.code : e));
    expect(await refusal(send(entry(["unsigned"])))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(await refusal(send(signRegistryEntry(entry(["foreign"]), other)))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(hub.hub.registry.agent("alpha")?.groups).toEqual(["ops"]);
    const own = await send(signRegistryEntry(entry(["dev"]), alpha));
    expect(own?.status).not.toBe(ReceiptStatus.REJECTED);
    await until(() => hub.hub.registry.agent("alpha")?.groups.includes("dev") ?? false, 5_000, "alpha re-registered");
    await c.close();
  });
});
