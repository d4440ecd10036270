// The browser bundle's copy of the wire model: the same module as "fleet-protocol/proto".
export * from "../proto.js";
