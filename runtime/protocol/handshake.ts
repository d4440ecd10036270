// The three-step handshake (spec/handshake.md) as two pure state machines.
export * from "./handshake-common.js";
export { HandshakeInitiator, type HandshakeInitiatorOptions } from "./handshake-initiator.js";
export { HandshakeResponder, type HandshakeResponderOptions } from "./handshake-responder.js";
