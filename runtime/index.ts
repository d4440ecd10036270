// The package's core entry (`import … from "fleet-protocol"`): errors, clock, codec, crypto,
// protocol and the hub client. Browser-safe like everything it imports: no static node:
// import anywhere in its graph (TCP is reached through "#transport-tcp", which package.json
// resolves to runtime/browser/no-tcp.ts outside Node). The generated wire model is
// "fleet-protocol/proto"; the hub, NATS and Node-only pieces have their own entries.
export { FleetError, ErrorCode, errorCodeName, isFleetError, asFleetError } from "./errors.js";
export { systemClock, FakeClock, type Clock, type TimerId } from "./clock.js";
export * from "./codec/index.js";
export * from "./crypto/index.js";
export * from "./protocol/index.js";
// Transports a client may be given (`conn`), and their shared interface.
export { connectWebSocket, FLEET_WS_PROTOCOL, type ConnectWebSocketOptions, type WebSocketConstructor, type WebSocketLike } from "./transport/websocket.js";
export { memoryPair, MemoryLink, type LinkSide, type MemoryLinkOptions } from "./transport/memory.js";
export type { FrameConnection, FrameListener } from "./transport/listener.js";
// The client: an agent's connection to a hub (TCP on Node, ws:// anywhere).
export { connectHub, DEFAULT_HUB_PORT, type ConnectHubOptions } from "./client/hub-client.js";
export { HubConnection, type FleetConnection, type MessageHandler, type MessageMeta } from "./client/connection.js";
export { applicationValue, buildEnvelope, DEFAULT_TTL_SECONDS, newMessageId, type EnvelopeDraft } from "./client/draft.js";
export { parseRecipient, recipientText } from "./client/address.js";
