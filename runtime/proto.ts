// "fleet-protocol/proto": the generated wire model, re-exported as one module: every message
// schema and type, and the protobuf-es functions that operate on them.
export * from "../generated/proto/fleet/v1/address_pb.js";
export * from "../generated/proto/fleet/v1/bottle_pb.js";
export * from "../generated/proto/fleet/v1/capabilities_pb.js";
export * from "../generated/proto/fleet/v1/discovery_pb.js";
export * from "../generated/proto/fleet/v1/envelope_pb.js";
export * from "../generated/proto/fleet/v1/errors_pb.js";
export * from "../generated/proto/fleet/v1/group_pb.js";
export * from "../generated/proto/fleet/v1/handshake_pb.js";
export * from "../generated/proto/fleet/v1/heartbeat_pb.js";
export * from "../generated/proto/fleet/v1/payload_pb.js";
export * from "../generated/proto/fleet/v1/receipt_pb.js";
export * from "../generated/proto/fleet/v1/registry_pb.js";
export * from "../generated/proto/fleet/v1/signed_pb.js";
export * from "../generated/proto/fleet/v1/token_pb.js";
export { create, toBinary, fromBinary, toJson, fromJson, equals, clone } from "@bufbuild/protobuf";
export { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
