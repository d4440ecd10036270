// `fleet token issue`: admission tokens for a hub run with --require-token, signed by the
// hub's own key (so run it with the hub's FLEET_HOME) for the hub's own audience, and bound
// to the holder's key id (printed by its `fleet keygen`), so a copy of it admits no one else.
// The token goes to a 0600 file, never to stdout: it is a credential.
import { issueToken } from "../../crypto/index.js";
import { usageError } from "../cli-error.js";
import { HUB_CONNECT_SCOPE, hubAudience } from "../../hub/options.js";
import { type Command, numberOption, str } from "../command.js";
import { writeOutput } from "../home.js";
import { loadOrCreateIdentity } from "../identities.js";

export const token: Command = {
  name: "token",
  summary: "issue hub admission tokens (for `fleet hub --require-token`)",
  usage: "fleet token issue --out FILE --holder KEY_ID [--subject AGENT] [--uses N] [--ttl SECONDS]",
  sub: [
    {
      name: "issue",
      summary: "write a token for this home's hub, bound to the holder's key, to FILE (0600); agents pass it with --token-file",
      usage: "fleet token issue --out FILE --holder KEY_ID (the agent's key id) [--subject AGENT] [--uses N (0 = unlimited)] [--ttl SECONDS (default 86400)]",
      options: { out: { type: "string" }, holder: { type: "string" }, subject: { type: "string" }, uses: { type: "string" }, ttl: { type: "string" } },
      async run(ctx) {
        const out = str(ctx, "out");
        if (!out) throw usageError("--out FILE is required: tokens are never printed (see fleet token issue --help)");
        const uses = numberOption(ctx, "uses", { integer: true, what: "0 = unlimited" }) ?? 0;
        const ttl = numberOption(ctx, "ttl", { min: 1, what: "seconds" }) ?? 86_400;
        const holder = str(ctx, "holder");
        if (!holder) throw usageError("--holder KEY_ID is required: the key id `fleet keygen` printed for the agent (see fleet token issue --help)");
        const hub = loadOrCreateIdentity(ctx.home, "fleet-hub");
        const subject = str(ctx, "subject") ?? "";
        const text = issueToken({ issuer: hub.agent, subject, audience: hubAudience(hub), scopes: [HUB_CONNECT_SCOPE], maxUses: uses, holderKeyId: holder }, hub, { ttlMs: ttl * 1000 });
        writeOutput(out, text + "\n", 0o600);
        ctx.out.line(`token for ${subject || "any agent"} holding ${holder} (${uses || "unlimited"} use${uses === 1 ? "" : "s"}, ${ttl} s) written to ${out}`);
        ctx.out.result({ ok: true, file: out, subject: subject || undefined, max_uses: uses, ttl_seconds: ttl, audience: hubAudience(hub), holder_key_id: holder });
      },
    },
  ],
};
