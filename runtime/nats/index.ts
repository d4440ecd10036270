// "fleet-protocol/nats": the NATS / JetStream binding (needs the optional peer dependency nats).
export { connectNats, NatsFleetConnection, type NatsConnectOptions } from "./connection.js";
export type { TrustPolicy } from "./keys.js";
// nats-server's own enforcement (spec/nats-auth.md).
export { agentPermissions, buildAuthorization, CHANNEL_RULES, foldChains, MAX_AUTH_USERS, renderAuthorization, type AuthAgent, type GroupChain, type NatsUser, type Permissions } from "./authorization.js";
export { provisionAgents } from "./jetstream.js";
export { followKeys, type FollowedKeys } from "./key-follow.js";
export { identityAuthenticator, publicKeyOfUserNkey, userNkey, userSeed } from "./nkey.js";
// Granted capabilities on NATS (spec/capabilities.md "On NATS").
export { CapabilitySubscriptions, grantHolders, NatsGrants, natsOffers, type GrantedSubscriptions } from "./grants.js";
