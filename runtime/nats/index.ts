// "fleet-protocol/nats": the NATS / JetStream binding (needs the optional peer dependency nats).
export { connectNats, NatsFleetConnection, type NatsConnectOptions } from "./connection.js";
export type { TrustPolicy } from "./keys.js";
