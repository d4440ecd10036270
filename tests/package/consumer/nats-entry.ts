// "fleet-protocol/nats" under the strict settings of examples/typescript (tsconfig.nats.json). Its declarations
// name types of the nats package (NatsConnection, JsMsg), whose own .d.ts files fail
// exactOptionalPropertyTypes and need the DOM lib's TextEncoder type: the test accepts errors
// located in node_modules/nats/ only, none in ours.
import type * as nats from "fleet-protocol/nats";

export type NatsOptions = nats.NatsConnectOptions;
export type Trust = nats.TrustPolicy;
export type Connection = nats.NatsFleetConnection;
