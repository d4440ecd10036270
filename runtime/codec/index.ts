// The codec: binary and JSON forms of fleet.v1 messages, frames, and validation with
// typed errors (FleetError + protocol code + JSON pointer).
export { PayloadType } from "./media-types.js";
export { encodeEnvelope, encodeEnvelopeWith, decodeEnvelope, encodePacket, decodePacket, encodeMessage, decodeMessage, parseMessage } from "./binary.js";
export { envelopeToJson, envelopeFromJson, messageToJson, messageFromJson, parseJsonMessage, parseJsonBytes, type JsonObject } from "./json.js";
export { validateEnvelope } from "./envelope-rules.js";
export { validateMessage } from "./validate.js";
export { FRAME_HEADER_BYTES, MAX_FRAME_BYTES, encodeFrame, encodeFrameHeader, decodeFrame, FrameDecoder } from "./frame.js";
export { childPointer } from "./pointer.js";
export { zeroFactory } from "./factory.js";
export { EnvelopeBatchWriter } from "./envelope-batch.js";
