// Text form of recipients (address.proto): "agent-beta", "group:ops", "capability:compute",
// "fleet:broadcast", "fleet:discovery", "fleet:hub". Used by the CLI, logs and EnvelopeDraft.
import { type Recipient, RecipientSchema } from "../../generated/proto/fleet/v1/address_pb.js";
import { zeroFactory } from "../codec/factory.js";
import { ErrorCode, FleetError } from "../errors.js";

const newRecipient = zeroFactory(RecipientSchema);
const scoped = /^(group|capability):(.+)$/;

function recipient(target: Recipient["target"]): Recipient {
  const r = newRecipient();
  r.target = target;
  return r;
}

function notARecipient(text: unknown): FleetError {
  return new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `not a recipient: ${JSON.stringify(text)}`, { pointer: "/recipient" });
}

export function parseRecipient(text: string): Recipient {
  if (typeof text !== "string" || text.length < 1 || text.length > 140) throw notARecipient(text);
  if (text === "fleet:broadcast") return recipient({ case: "broadcast", value: true });
  if (text === "fleet:discovery") return recipient({ case: "discovery", value: true });
  if (text === "fleet:hub") return recipient({ case: "hub", value: true });
  const m = scoped.exec(text);
  if (m) return recipient({ case: m[1] as "group" | "capability", value: m[2] });
  if (text.startsWith("fleet:") || text.length > 128) throw notARecipient(text);
  return recipient({ case: "agent", value: text });
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
