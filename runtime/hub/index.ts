// "fleet-protocol/hub": the local hub (Node only; needs the optional peer dependency
// better-sqlite3 for its store, and ws for its WebSocket listener).
export { startHub, type RunningHub } from "./start.js";
export { Hub, type HubStats } from "./hub.js";
export { HUB_CONNECT_SCOPE, HUB_DEFAULT_PORT, hubAudience, type HubOptions } from "./options.js";
