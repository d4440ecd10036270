// Text form of recipients (address.proto): "agent-beta", "group:ops", "capability:compute",
// "fleet:broadcast", "fleet:discovery", "fleet:hub". Used by the CLI, logs and EnvelopeDraft.
import { create } from "@bufbuild/protobuf";
import { type Recipient, RecipientSchema } from "../../generated/proto/fleet/v1/address_pb.js";
import { ErrorCode, FleetError } from "../errors.js";

export function parseRecipient(text: string): Recipient {
  const fail = () => new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `not a recipient: ${JSON.stringify(text)}`, { pointer: "/recipient" });
  if (typeof text !== "string" || text.length < 1 || text.length > 140) throw fail();
  if (text === "fleet:broadcast") return create(RecipientSchema, { target: { case: "broadcast", value: true } });
  if (text === "fleet:discovery") return create(RecipientSchema, { target: { case: "discovery", value: true } });
  if (text === "fleet:hub") return create(RecipientSchema, { target: { case: "hub", value: true } });
  const m = /^(group|capability):(.+)$/.exec(text);
  if (m) return create(RecipientSchema, { target: { case: m[1] as "group" | "capability", value: m[2] } });
  if (text.startsWith("fleet:") || text.length > 128) throw fail();
  return create(RecipientSchema, { target: { case: "agent", value: text } });
}

export function recipientText(r: Recipient | undefined): string {
  switch (r?.target.case) {
    case "agent":
      return r.target.value;
    case "group":
    case "capability":
      return `${r.target.case}:${r.target.value}`;
    case "broadcast":
    case "discovery":
    case "hub":
      return `fleet:${r.target.case}`;
    default:
      return "";
  }
}
