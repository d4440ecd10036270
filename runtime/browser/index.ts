// The browser entry: the runtime core (no Node built-ins anywhere in its import graph;
// tools/build-browser.ts fails the build otherwise) plus the WebSocket transport.
// Bundled by `npm run build:browser` into dist/browser/fleet.js.
export * from "./proto.js";
export { FleetError, ErrorCode, errorCodeName, isFleetError, asFleetError } from "../errors.js";
export { systemClock, FakeClock, type Clock, type TimerId } from "../clock.js";
export * from "../codec/index.js";
export * from "../crypto/index.js";
export * from "../protocol/index.js";
export * from "../transport/websocket.js";
export { memoryPair, MemoryLink, type LinkSide, type MemoryLinkOptions } from "../transport/memory.js";
export type { FrameConnection, FrameListener } from "../transport/listener.js";
// The client: an agent's connection to a hub over ws:// (connectHub({ url, port: 0, identity })).
export { connectHub, DEFAULT_HUB_PORT, type ConnectHubOptions } from "../client/hub-client.js";
export { HubConnection, type FleetConnection, type MessageHandler, type MessageMeta } from "../client/connection.js";
export { applicationValue, buildEnvelope, DEFAULT_TTL_SECONDS, newMessageId, type EnvelopeDraft } from "../client/draft.js";
export { parseRecipient, recipientText } from "../client/address.js";
