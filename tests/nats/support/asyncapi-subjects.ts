// Holds runtime/nats/subjects.ts to an AsyncAPI document in both directions: every channel
// address is in CHANNEL_SUBJECTS under its channel id and is reached by some `subjects`
// function, and every subject a `subjects` function makes is a documented address. Returns
// one line per disagreement, so a test can run it against a broken copy of the document.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { CHANNEL_SUBJECTS, PARAMETER_VALUES, subjects } from "../../../runtime/nats/subjects.js";
import { CONTENT_TYPE } from "../../../runtime/nats/wire.js";

interface Parameter {
  enum?: string[];
  $ref?: string;
}
interface Channel {
  address?: string | null;
  parameters?: Record<string, Parameter>;
  messages?: Record<string, { $ref?: string; contentType?: string }>;
}
interface Doc {
  defaultContentType?: string;
  channels: Record<string, Channel>;
  components?: { parameters?: Record<string, Parameter>; messages?: Record<string, { contentType?: string }> };
}

/**
 * Every subject the binding makes, one call per function (both session directions). Typed
 * against `subjects`, so a new subject function without an entry here does not compile.
 */
export const SUBJECT_USES: { [K in keyof typeof subjects]: () => string[] } = {
  agentInbox: () => [subjects.agentInbox("agent-a")],
  agentReceipts: () => [subjects.agentReceipts("agent-a")],
  broadcast: () => [subjects.broadcast()],
  group: () => [subjects.group("ops")],
  capability: () => [subjects.capability("compute")],
  presence: () => [subjects.presence("agent-a")],
  presenceAll: () => [subjects.presenceAll()],
  discovery: () => [subjects.discovery()],
  registrySync: () => [subjects.registrySync()],
  registryQuery: () => [subjects.registryQuery()],
  bottle: () => [subjects.bottle("agent-a")],
  session: () => [subjects.session("s-1", "initiator"), subjects.session("s-1", "responder")],
  keys: () => [subjects.keys("agent-a")],
  keysAll: () => [subjects.keysAll()],
  groupChain: () => [subjects.groupChain("ops")],
};

/** Resolves a local `#/components/...` reference (the only kind the document uses for these). */
function resolve<T extends { $ref?: string }>(doc: Doc, node: T): T {
  if (!node.$ref?.startsWith("#/")) return node;
  let at: unknown = doc;
  for (const key of node.$ref.slice(2).split("/")) at = (at as Record<string, unknown> | undefined)?.[key];
  return (at ?? {}) as T;
}

/** True when a concrete subject (a `*` token stands for any parameter) fits a channel address. */
function fits(doc: Doc, channel: Channel, subject: string): boolean {
  const parts = (channel.address ?? "").split(".");
  const tokens = subject.split(".");
  return (
    parts.length === tokens.length &&
    parts.every((p, i) => {
      if (!p.startsWith("{")) return p === tokens[i];
      const values = resolve(doc, channel.parameters?.[p.slice(1, -1)] ?? {}).enum;
      return tokens[i] === "*" || !values || values.includes(tokens[i]);
    })
  );
}

export function compareSubjectsWithAsyncapi(docPath: string): string[] {
  const doc = parse(readFileSync(docPath, "utf8")) as Doc;
  const out: string[] = [];
  // Channels with a null address are not subjects (hub connection, request reply addresses).
  const documented = Object.entries(doc.channels).filter((e): e is [string, Channel & { address: string }] => typeof e[1].address === "string");
  const table: Record<string, string> = CHANNEL_SUBJECTS;

  for (const [id, ch] of documented) {
    if (table[id] !== ch.address) out.push(`channel ${id} (${ch.address}) is ${table[id] === undefined ? "missing from" : `${table[id]} in`} CHANNEL_SUBJECTS`);
  }
  for (const [id, address] of Object.entries(table)) {
    if (!documented.some(([d]) => d === id)) out.push(`CHANNEL_SUBJECTS.${id} (${address}) is not a channel of the document`);
  }

  // Enumerated parameters: the document's enum and the binding's fixed tokens agree.
  const enums = new Map<string, string[]>();
  for (const [id, ch] of documented) {
    for (const [name, p] of Object.entries(ch.parameters ?? {})) {
      const values = resolve(doc, p).enum;
      if (values) enums.set(name, values);
      else if (PARAMETER_VALUES[name]) out.push(`channel ${id} parameter ${name} has no enum, the binding allows only ${PARAMETER_VALUES[name].join(", ")}`);
    }
  }
  for (const [name, values] of enums) {
    if ([...(PARAMETER_VALUES[name] ?? [])].sort().join() !== [...values].sort().join()) out.push(`parameter ${name}: document enum ${values.join(", ")}, binding ${PARAMETER_VALUES[name]?.join(", ") ?? "(any name)"}`);
  }
  for (const name of Object.keys(PARAMETER_VALUES)) if (!enums.has(name)) out.push(`PARAMETER_VALUES.${name} is no enumerated parameter of the document`);

  // Every subject the binding makes is documented; every documented channel is made by some function.
  const reached = new Set<string>();
  for (const [fn, use] of Object.entries(SUBJECT_USES)) {
    for (const subject of use()) {
      const hits = documented.filter(([, ch]) => fits(doc, ch, subject));
      if (hits.length === 0) out.push(`subjects.${fn}() makes ${subject}, which no channel of the document addresses`);
      for (const [id] of hits) reached.add(id);
    }
  }
  for (const [id, ch] of documented) if (!reached.has(id)) out.push(`channel ${id} (${ch.address}) has no subject function`);

  // Messages on subjects say the Content-Type the binding writes.
  const types: string[] = Object.values(CONTENT_TYPE);
  for (const [id, ch] of documented) {
    for (const [name, m] of Object.entries(ch.messages ?? {})) {
      const type = resolve(doc, m).contentType ?? doc.defaultContentType;
      if (!type || !types.includes(type)) out.push(`channel ${id} message ${name} has content type ${type}, the binding writes ${types.join(" or ")}`);
    }
  }
  return out;
}
