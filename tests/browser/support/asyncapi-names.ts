// What an AsyncAPI 3 document says must be visible in its rendered docs: every channel
// (by address, which is what the HTML shows), every operation id, every message id.
import { readFileSync } from "node:fs";
import { parse } from "yaml";

type Obj = Record<string, any>;

export interface AsyncApiNames {
  title: string;
  /** address is null for channels without one (a hub connection); the docs then show the description. */
  channels: { key: string; address: string | null; title: string; description: string }[];
  operations: { id: string; action: string; channel: string }[];
  /** Message ids: component message keys and inline channel message keys. */
  messages: string[];
  /** Component message keys alone (each has a section "message-<key>" on the page). */
  componentMessages: string[];
  /** Per component message, a value each of its examples alone carries (its envelope id, session id or statement bytes). */
  exampleMarkers: Record<string, string[]>;
  /** Per component message, the named schema its payload is built on (the first `allOf` reference: Envelope, Packet, ...). */
  payloadBases: Record<string, string>;
}

function resolve(doc: Obj, node: any): any {
  // Local refs only ("#/components/..."): the documents are self-contained or reference JSON Schemas
  // for payloads, which are not names the docs must show.
  if (node && typeof node.$ref === "string" && node.$ref.startsWith("#/")) {
    const target = node.$ref
      .slice(2)
      .split("/")
      .map((p: string) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
      .reduce((o: any, k: string) => o?.[k], doc);
    return resolve(doc, target);
  }
  return node;
}

export function asyncApiNames(file: string): AsyncApiNames {
  const doc = parse(readFileSync(file, "utf8")) as Obj;
  if (!String(doc.asyncapi ?? "").startsWith("3.")) throw new Error(`${file}: expected an AsyncAPI 3 document`);
  const channels = Object.entries<Obj>(doc.channels ?? {}).map(([key, raw]) => {
    const ch = resolve(doc, raw) as Obj;
    return {
      key,
      address: typeof ch.address === "string" ? ch.address : null,
      title: String(ch.title ?? ""),
      description: String(ch.description ?? "").trim(),
    };
  });
  const operations = Object.entries<Obj>(doc.operations ?? {}).map(([id, raw]) => {
    const op = resolve(doc, raw) as Obj;
    const ref: string = op.channel?.$ref ?? "";
    return { id, action: String(op.action), channel: ref.split("/").pop() ?? "" };
  });
  const messages = new Set(Object.keys(doc.components?.messages ?? {}));
  for (const raw of Object.values<Obj>(doc.channels ?? {})) {
    const ch = resolve(doc, raw) as Obj;
    for (const [key, m] of Object.entries<Obj>(ch.messages ?? {})) if (!m?.$ref) messages.add(key);
  }
  const componentMessages = Object.keys(doc.components?.messages ?? {});
  const exampleMarkers = Object.fromEntries(
    Object.entries<Obj>(doc.components?.messages ?? {}).map(([key, m]) => [
      key,
      ((m.examples ?? []) as Obj[]).map((ex) => String(ex.payload?.id ?? ex.payload?.session?.sessionId ?? ex.payload?.statement ?? "")).filter(Boolean),
    ]),
  );
  const payloadBases = Object.fromEntries(
    Object.entries<Obj>(doc.components?.messages ?? {}).map(([key, m]) => {
      const payload = resolve(doc, m.payload) as Obj | undefined;
      const base: string = payload?.allOf?.[0]?.$ref ?? "";
      return [key, base.split("/").pop() ?? ""];
    }),
  );
  return { title: String(doc.info?.title ?? ""), channels, operations, messages: [...messages], componentMessages, exampleMarkers, payloadBases };
}
