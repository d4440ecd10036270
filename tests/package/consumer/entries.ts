// Every entry of the package but "fleet-protocol/nats", by its published name. tests/package
// copies this file into examples/typescript, so the entries' declarations (and everything they
// import) are type-checked with that example's strict settings. The NATS entry is checked
// apart (nats-entry.ts): the nats package's own declarations do not pass these settings.
import type * as core from "fleet-protocol";
import type * as proto from "fleet-protocol/proto";
import type * as hub from "fleet-protocol/hub";
import type * as node from "fleet-protocol/node";
import type * as browser from "fleet-protocol/browser";
import wire from "fleet-protocol/fixtures/wire.json" with { type: "json" };

export type Entries = [typeof core, typeof proto, typeof hub, typeof node, typeof browser];

// A few uses that need the types to be right, not merely present.
export const options: core.ConnectHubOptions = { port: 7420, identity: {} as core.Identity, capabilities: ["x@1"] };
export const draft: core.EnvelopeDraft = { to: "beta", json: { n: 1 }, requiresAck: true };
export type Hub = hub.RunningHub["hub"];
export type Envelope = proto.Envelope;
export const fixtureDescription: string = wire.description;
