// `fleet capability grant|policy` (spec/capabilities.md): run as a capability's authority.
// `policy` prints the policy file entry naming this identity as the authority of the given
// capabilities (for `fleet hub --capability-policy FILE`); `grant` prints a grant bound to one
// holder's key. A grant is not a secret (it travels in every registry record that offers the
// capability, and grants no one but the key it names), so it is printed.
import { readFileSync } from "node:fs";
import { parseCapability } from "../../protocol/capabilities.js";
import { issueGrant, parseCapabilityPolicy, policyJson, type CapabilityPolicy } from "../../protocol/capability-grants.js";
import { isFleetError } from "../../errors.js";
import { CliError, usageError } from "../cli-error.js";
import { type Command, str } from "../command.js";
import { fileError } from "../files.js";
import { loadIdentity } from "../identities.js";
import { parseDuration } from "./group.js";

const KEY_ID = /^ed25519:[a-z2-7]{32}$/;

function capabilityName(text: string): string {
  try {
    return parseCapability(text).name;
  } catch {
    throw usageError(`not a capability name: ${JSON.stringify(text)} (1..64 of a-z 0-9 . _ -)`);
  }
}

/** `fleet hub --capability-policy FILE`: the file read and checked (a CLI failure naming the problem otherwise). */
export function readCapabilityPolicy(path: string): CapabilityPolicy {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw fileError(path, e);
  }
  try {
    return parseCapabilityPolicy(JSON.parse(text));
  } catch (e) {
    const where = isFleetError(e) && e.pointer ? ` at ${e.pointer}` : "";
    throw new CliError(`${path} is not a capability policy${where}: ${(e as Error).message} (see spec/capabilities.md)`);
  }
}

/** `--grant TEXT|FILE` (repeatable): each grant's text, read from the file when it is not the text itself. */
export function grantsOption(values: string[]): string[] {
  return values.map((v) => {
    if (v.startsWith("fleet1.")) return v;
    try {
      return readFileSync(v, "utf8").trim();
    } catch (e) {
      throw fileError(v, e);
    }
  });
}

export const capability: Command = {
  name: "capability",
  summary: "granted capabilities: the hub's policy file entry and grants, run as the capability's authority",
  usage: "fleet capability policy NAME... | fleet capability grant NAME --holder-key KEY_ID [--holder AGENT] [--ttl 30d]",
  sub: [
    {
      name: "policy",
      summary: "print the policy file naming this identity as the authority of NAME... (for fleet hub --capability-policy FILE)",
      usage: "fleet capability policy NAME...",
      async run(ctx) {
        const names = ctx.positionals.map(capabilityName);
        if (!names.length) throw usageError("NAME is required: the capabilities to grant (see fleet capability policy --help)");
        const id = loadIdentity(ctx.home, str(ctx, "agent"));
        const policy = policyJson(id, names);
        // Public keys look random enough for the redactor: printed as asked, unredacted.
        ctx.out.secret("granted", policy.granted, JSON.stringify(policy, null, 2));
        ctx.out.result({ ok: true });
      },
    },
    {
      name: "grant",
      summary: "print a grant of NAME to the agent holding KEY_ID, signed by this identity (an authority of NAME)",
      usage: "fleet capability grant NAME --holder-key KEY_ID [--holder AGENT] [--ttl 30d]",
      options: { "holder-key": { type: "string" }, holder: { type: "string" }, ttl: { type: "string" } },
      async run(ctx) {
        const name = capabilityName(ctx.positionals[0] ?? "");
        const holderKeyId = str(ctx, "holder-key");
        if (!holderKeyId || !KEY_ID.test(holderKeyId)) throw usageError("--holder-key KEY_ID is required: the holder's key id, as its `fleet keygen` printed (ed25519:...)");
        const ttl = str(ctx, "ttl") ?? "30d";
        const ttlMs = parseDuration(ttl);
        const id = loadIdentity(ctx.home, str(ctx, "agent"));
        const grant = issueGrant(name, id, { holderKeyId, holder: str(ctx, "holder") ?? "", ttlMs });
        // Token text is redacted everywhere else; this is the one line the user asked for.
        ctx.out.secret("grant", grant);
        ctx.out.result({ ok: true, capability: name, holder_key_id: holderKeyId, holder: str(ctx, "holder"), authority: id.agent, expires_in_ms: ttlMs });
      },
    },
  ],
};
