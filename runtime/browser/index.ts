// The browser entry: the runtime core (no Node built-ins anywhere in its import graph;
// tools/build-browser.ts fails the build otherwise) plus the WebSocket transport.
// Bundled by `npm run build:browser` into dist/browser/fleet.js.
export * from "./proto.js";
export { FleetError, ErrorCode, errorCodeName, isFleetError, asFleetError } from "../errors.js";
export { systemClock, FakeClock, type Clock, type TimerId } from "../clock.js";
export * from "../codec/index.js";
export * from "../crypto/index.js";
export * from "../transport/websocket.js";
export type { FrameConnection, FrameListener } from "../transport/listener.js";
