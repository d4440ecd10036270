// Payload types (media types) of the bytes a SignedEnvelope, SessionEnvelope or NATS message carries.
export const PayloadType = {
  envelopeProto: "application/vnd.fleet.v1.envelope+proto",
  envelopeJson: "application/vnd.fleet.v1.envelope+json",
  /** A SessionEnvelope payload holding an EnvelopeBatch (spec/sessions.md). */
  envelopeBatchProto: "application/vnd.fleet.v1.envelope-batch+proto",
  packetProto: "application/vnd.fleet.v1.packet+proto",
} as const;
export type PayloadType = (typeof PayloadType)[keyof typeof PayloadType];
