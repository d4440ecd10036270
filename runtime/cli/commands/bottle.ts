// bottle send AGENT --payload JSON --when CONDITION, bottle status ID: store-and-forward
// through the hub, which holds the origin-signed letter until the condition holds.
import { create } from "@bufbuild/protobuf";
import { BottleLetterSchema, BottleSchema } from "../../../generated/proto/fleet/v1/bottle_pb.js";
import { MessageType } from "../../../generated/proto/fleet/v1/envelope_pb.js";
import { ApplicationPayloadSchema } from "../../../generated/proto/fleet/v1/payload_pb.js";
import { parseRecipient } from "../../client/address.js";
import { applicationValue, buildEnvelope } from "../../client/draft.js";
import { systemClock } from "../../clock.js";
import { signEnvelope } from "../../crypto/index.js";
import { ErrorCode, isFleetError } from "../../errors.js";
import { HUB_OP_MEDIA_TYPE } from "../../hub/hub-requests.js";
import { CliError, usageError } from "../cli-error.js";
import { type Command, numberOption, required, str } from "../command.js";
import { parseCondition } from "../condition.js";
import { carrierName, connectFor } from "../connect.js";
import { loadIdentity } from "../identities.js";

export const bottle: Command = {
  name: "bottle",
  summary: "message in a bottle: held by the hub until a condition holds",
  usage: "fleet bottle send AGENT --payload JSON --when CONDITION [--ttl SECONDS] | fleet bottle status ID",
  sub: [
    {
      name: "send",
      summary: "leave a bottle for AGENT, delivered when CONDITION holds (always, agent_online:X, capability:X, not_before:ISO, A&B, A|B)",
      usage: "fleet bottle send AGENT --payload JSON --when CONDITION [--ttl SECONDS]",
      options: { payload: { type: "string" }, when: { type: "string" }, ttl: { type: "string" } },
      async run(ctx) {
        const to = ctx.positionals[0];
        const raw = str(ctx, "payload");
        if (!to || raw === undefined) throw usageError("AGENT and --payload JSON are required (see fleet bottle send --help)");
        try {
          JSON.parse(raw);
        } catch (e) {
          throw usageError(`--payload is not JSON: ${(e as Error).message}`);
        }
        const condition = parseCondition(str(ctx, "when") ?? "always");
        const ttl = numberOption(ctx, "ttl", { min: 1, integer: true, what: "seconds" }) ?? 86_400;
        const id = loadIdentity(ctx.home, str(ctx, "agent"));
        const bottleId = globalThis.crypto.randomUUID();
        const letter = create(BottleLetterSchema, { bottleId, recipient: parseRecipient(to), condition, payload: create(ApplicationPayloadSchema, { mediaType: "application/json", content: { case: "json", value: raw } }), maxHops: 8 });
        const letterEnv = buildEnvelope({ to, type: MessageType.EVENT, ttlSeconds: ttl, body: { case: "bottleLetter", value: letter } }, id.agent, systemClock);
        const signed = signEnvelope(letterEnv, id);
        const conn = await connectFor(ctx, { agent: id.agent });
        try {
          await conn.send({ to: "fleet:hub", type: MessageType.COMMAND, requiresAck: true, sign: false, ttlSeconds: 60, body: { case: "bottle", value: create(BottleSchema, { letter: signed }) } });
          ctx.out.line(`bottle ${bottleId} for ${to} held by ${carrierName(conn)} until ${str(ctx, "when") ?? "always"}`);
          ctx.out.result({ ok: true, bottle_id: bottleId, to, when: str(ctx, "when") ?? "always" });
        } finally {
          await conn.close();
        }
      },
    },
    {
      name: "status",
      summary: "where a bottle is (QUEUED, DELIVERED, ACKNOWLEDGED, EXPIRED, FAILED)",
      usage: "fleet bottle status ID",
      async run(ctx) {
        const bottleId = required(ctx, 0, "ID");
        const conn = await connectFor(ctx);
        try {
          const answer = await conn
            .request({ to: "fleet:hub", type: MessageType.QUERY, sign: false, body: { case: "application", value: create(ApplicationPayloadSchema, { mediaType: HUB_OP_MEDIA_TYPE, content: { case: "json", value: JSON.stringify({ op: "bottle.status", bottle_id: bottleId }) } }) } })
            .catch((e: unknown) => {
              // The hub answers "not found" for an id it does not hold: say that, without a protocol code.
              if (isFleetError(e, ErrorCode.REGISTRY_AGENT_NOT_FOUND)) throw new CliError(`no bottle ${bottleId} on this hub`);
              throw e;
            });
          const status = applicationValue(answer) as { status: string; recipient: string; updated_at: string };
          ctx.out.line(`bottle ${bottleId}: ${status.status} (for ${status.recipient}, since ${status.updated_at})`);
          ctx.out.result({ ok: true, ...status });
        } finally {
          await conn.close();
        }
      },
    },
  ],
};
