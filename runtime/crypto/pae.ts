// Pre-authentication encoding (spec/signing.md): the only way bytes become "signed bytes".
// Every field is length-prefixed, so no two different inputs encode alike.
const MAGIC = new TextEncoder().encode("FLEET-PAE/1");
const utf8 = new TextEncoder();

export type PaePart = Uint8Array | string;

/** Signature domains; a signature made for one never verifies in another. */
export const Domain = {
  envelope: "fleet.v1.envelope",
  session: "fleet.v1.session",
  /** HKDF info for session keys (spec/sessions.md). */
  sessionKeys: "fleet.v1.session-keys",
  /** Handshake transcript hash, the HKDF salt (spec/sessions.md). */
  sessionTranscript: "fleet.v1.session-transcript",
  /** Key confirmation: each side's Finished MAC over the transcript (spec/handshake.md). */
  handshakeFinished: "fleet.v1.handshake-finished",
  /** HKDF info of a handshake's resumption PSK (spec/handshake.md "Resumption"). */
  resumptionPsk: "fleet.v1.resumption-psk",
  /** A resumed handshake step's MAC key, per role, from the PSK. */
  resumptionBinder: "fleet.v1.resumption-binder",
  /** Names a ticket key inside the reference hub's tickets. */
  resumptionTicketKey: "fleet.v1.resumption-ticket-key",
  /** AEAD associated data of an encrypted body (spec/sessions.md). */
  sessionBody: "fleet.v1.session-body",
  postmark: "fleet.v1.postmark",
  token: "fleet.v1.token",
  keyRotationNew: "fleet.v1.key-rotation.new",
  /** A registry entry's owner signature over its entry_hash (spec/registry.md). */
  registryOwner: "fleet.v1.registry.owner",
  /** A group statement (spec/groups.md). */
  groupStatement: "fleet.v1.group-statement",
  file: "fleet.v1.file",
} as const;
export type Domain = (typeof Domain)[keyof typeof Domain];

/** Encodes an unsigned integer as 8 big-endian bytes, the PAE form of integer parts. */
export function u64be(value: number | bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value));
  return out;
}

export function pae(domain: Domain | string, ...parts: PaePart[]): Uint8Array {
  const fields = [utf8.encode(domain), ...parts.map((p) => (typeof p === "string" ? utf8.encode(p) : p))];
  let size = MAGIC.length + 4;
  for (const f of fields) size += 4 + f.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  let at = MAGIC.length;
  view.setUint32(at, fields.length);
  at += 4;
  for (const f of fields) {
    view.setUint32(at, f.length);
    out.set(f, at + 4);
    at += 4 + f.length;
  }
  return out;
}

/**
 * The same bytes as pae(), as a few chunks for a streaming MAC: small fields are packed
 * together and large parts (payloads) are passed through uncopied.
 */
export function paeChunks(domain: Domain | string, ...parts: PaePart[]): Uint8Array[] {
  const fields = [utf8.encode(domain), ...parts.map((p) => (typeof p === "string" ? utf8.encode(p) : p))];
  const chunks: Uint8Array[] = [];
  let small = 0;
  for (const f of fields) small += 4 + (f.length <= 256 ? f.length : 0);
  const head = new Uint8Array(MAGIC.length + 4 + small);
  const view = new DataView(head.buffer);
  head.set(MAGIC, 0);
  view.setUint32(MAGIC.length, fields.length);
  let at = MAGIC.length + 4;
  let start = 0;
  for (const f of fields) {
    view.setUint32(at, f.length);
    at += 4;
    if (f.length <= 256) {
      head.set(f, at);
      at += f.length;
    } else {
      chunks.push(head.subarray(start, at), f);
      start = at;
    }
  }
  if (at > start) chunks.push(head.subarray(start, at));
  return chunks;
}

/**
 * The leading bytes of a PAE with `partCount` parts after the domain, covering the domain
 * and the given leading parts only (callers append the rest, framed the same way).
 */
export function paePrefix(partCount: number, domain: Domain | string, ...leading: PaePart[]): Uint8Array {
  const whole = pae(domain, ...leading);
  new DataView(whole.buffer).setUint32(MAGIC.length, partCount + 1);
  return whole;
}
