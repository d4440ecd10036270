// Runs inside the page: checks the golden fixtures (fixtures/manifest.json and every set it
// lists, fetched over http://) against the browser bundle passed in as `fleet`, exactly as
// a third-party implementation would. Each check is counted; every mismatch is reported
// with its vector's name, so the Node test can show what differs.
import type * as Fleet from "../../../runtime/browser/index.js";

type F = typeof Fleet;
type Json = any;

export interface FixtureReport {
  /** Set name -> number of checks that ran. */
  checks: Record<string, number>;
  failures: string[];
  /** Sets listed in the manifest that this verifier does not know how to check. */
  unknownSets: string[];
  /** How the signatures were checked: "webcrypto" when Chromium's Ed25519 cross-checked them too. */
  ed25519: string[];
}

class Checker {
  count = 0;
  readonly failures: string[] = [];
  constructor(readonly set: string) {}
  eq(what: string, got: unknown, want: unknown): void {
    this.count++;
    if (got !== want) this.failures.push(`${this.set}: ${what}: got ${String(got).slice(0, 80)}, want ${String(want).slice(0, 80)}`);
  }
  true(what: string, ok: boolean): void {
    this.eq(what, ok, true);
  }
  /** The FleetError code fn throws, "none" if it returns, or the foreign error's message. */
  code(f: F, fn: () => unknown): number | string {
    try {
      fn();
      return "none";
    } catch (e) {
      return e instanceof f.FleetError ? e.code : `non-FleetError: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
}

async function webVerify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): Promise<boolean> {
  const key = await crypto.subtle.importKey("raw", publicKey as BufferSource, "Ed25519", false, ["verify"]);
  return crypto.subtle.verify("Ed25519", key, sig as BufferSource, msg as BufferSource);
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function checkCryptoSet(f: F, fx: Json, c: Checker): Promise<void> {
  const h = f.fromHex;
  const keys = new f.StaticKeys(fx.keys.filter((k: Json) => k.agent !== "agent-mallory").map((k: Json) => ({ agent: k.agent, publicKey: h(k.public_key_hex) })));
  for (const k of fx.keys) {
    const id = f.identityFromSeed(k.agent, h(k.seed_hex));
    c.eq(`key ${k.agent} public key`, f.toHex(id.publicKey), k.public_key_hex);
    c.eq(`key ${k.agent} key id`, id.keyId, k.key_id);
  }
  const kp = fx.keep_protocol_ed25519;
  const kpId = f.identityFromSeed("bot:alice", h(kp.seed_hex));
  c.eq("keep-protocol signature (sync)", f.toHex(kpId.sign(h(kp.message_hex))), kp.sig_hex);
  c.eq("keep-protocol signature (signAsync: WebCrypto)", f.toHex(await kpId.signAsync(h(kp.message_hex))), kp.sig_hex);
  c.true("keep-protocol signature verifies in WebCrypto", await webVerify(h(kp.public_key_hex), h(kp.message_hex), h(kp.sig_hex)));
  for (const v of fx.pae) c.eq(`pae ${v.domain}`, f.toHex(f.pae(v.domain, ...v.parts_hex.map(h))), v.pae_hex);

  for (const v of fx.signed_envelopes) {
    const bytes = h(v.signed_envelope_hex);
    const signed = f.fromBinary(f.SignedEnvelopeSchema, bytes);
    c.eq(`${v.name}: payload`, f.toHex(signed.payload), v.payload_hex);
    c.eq(`${v.name}: re-encoded bytes`, f.toHex(f.toBinary(f.SignedEnvelopeSchema, signed)), v.signed_envelope_hex);
    c.eq(`${v.name}: JSON form carries the same bytes`, f.toHex(f.toBinary(f.SignedEnvelopeSchema, f.fromJson(f.SignedEnvelopeSchema, v.signed_envelope_json))), v.signed_envelope_hex);
    c.eq(`${v.name}: PAE`, f.toHex(f.pae(f.Domain.envelope, v.payload_type, h(v.payload_hex))), v.pae_hex);
    c.true(`${v.name}: signature (runtime)`, f.verifyEd25519(keys.resolve(v.key_id)!, h(v.pae_hex), h(v.sig_hex)));
    c.true(`${v.name}: signature (WebCrypto)`, await webVerify(keys.resolve(v.key_id)!, h(v.pae_hex), h(v.sig_hex)));
    const replay = new f.ReplayGuard({ clock: new f.FakeClock(fx.now_ms) });
    c.eq(`${v.name}: opens`, f.openSignedEnvelope(signed, { keys, replay }).sender, "agent-alice");
  }

  const hm = fx.hmac;
  c.eq("hmac key id", f.sharedSecretKeyId(h(hm.secret_hex)), hm.key_id);
  c.eq("hmac signature", f.toHex(f.hmacSha256(h(hm.secret_hex), h(hm.pae_hex))), hm.sig_hex);
  const hmSigned = f.fromBinary(f.SignedEnvelopeSchema, h(hm.signed_envelope_hex));
  c.eq("hmac opens", f.openSignedEnvelope(hmSigned, { keys, sharedSecrets: new Map([[hm.key_id, h(hm.secret_hex)]]), clock: new f.FakeClock(fx.now_ms) }).sender, "agent-alice");

  const s = fx.session;
  c.eq("session initiator ephemeral", f.toHex(f.x25519PublicKey(h(s.initiator_ephemeral_private_hex))), s.initiator_ephemeral_public_hex);
  c.eq("session responder ephemeral", f.toHex(f.x25519PublicKey(h(s.responder_ephemeral_private_hex))), s.responder_ephemeral_public_hex);
  c.eq("session transcript", f.toHex(f.transcriptHash(h(s.initiator_ephemeral_public_hex), h(s.responder_ephemeral_public_hex))), s.transcript_hex);
  c.eq("session shared secret", f.toHex(f.x25519SharedSecret(h(s.initiator_ephemeral_private_hex), h(s.responder_ephemeral_public_hex))), s.shared_secret_hex);
  const k = f.deriveSessionKeys(h(s.shared_secret_hex), s.session_id, h(s.transcript_hex));
  c.eq("session keys", JSON.stringify({ i2r_mac_hex: f.toHex(k.i2rMac), r2i_mac_hex: f.toHex(k.r2iMac), i2r_enc_hex: f.toHex(k.i2rEnc), r2i_enc_hex: f.toHex(k.r2iEnc) }), JSON.stringify(s.keys));
  const sessionFor = (role: "initiator" | "responder") => new f.Session(s.session_id, role, f.deriveSessionKeys(h(s.shared_secret_hex), s.session_id, h(s.transcript_hex)));
  const responder = sessionFor("responder");
  const initiator = sessionFor("initiator");
  for (const m of s.messages) {
    const se = f.fromBinary(f.SessionEnvelopeSchema, h(m.session_envelope_hex));
    c.eq(`session message ${m.direction} #${m.sequence} mac`, f.toHex(se.mac), m.mac_hex);
    const opened = (m.direction === "i2r" ? responder : initiator).openAll(se);
    c.eq(`session message ${m.direction} #${m.sequence} opens`, [...opened.envelopes.map((e) => e.body?.kind.case), ...opened.refused.map(String)].join(","), opened.envelopes.map(() => "application").join(",") || "application");
  }

  for (const t of fx.tokens) {
    const claims = f.verifyToken(t.token, { keys, audience: t.audience, scope: t.scope, subject: t.subject, holderKeyId: t.holder_key_id, clock: new f.FakeClock(t.now_ms), uses: new f.MemoryTokenUseStore() });
    c.eq(`token ${t.name} issuer`, claims.issuer, t.issuer);
  }

  for (const v of fx.negative) {
    let got: number | string;
    if (v.kind === "signed_envelope") {
      const signed = f.fromBinary(f.SignedEnvelopeSchema, h(v.signed_envelope_hex));
      const replay = new f.ReplayGuard({ clock: new f.FakeClock(v.now_ms) });
      const sharedSecrets = v.shared_secret_hex ? new Map([[fx.hmac.key_id, h(v.shared_secret_hex)]]) : undefined;
      const open = () => f.openSignedEnvelope(signed, { keys, replay, sharedSecrets });
      if (v.deliver_twice) open();
      got = c.code(f, open);
    } else if (v.kind === "public_key") {
      got = c.code(f, () => f.assertValidPublicKey(h(v.public_key_hex)));
    } else if (v.kind === "session") {
      const receiver = sessionFor(v.direction === "i2r" ? "responder" : "initiator");
      receiver.sequenceRule = v.sequence_rule ?? "contiguous";
      const open = (hex: string) => receiver.open(f.fromBinary(f.SessionEnvelopeSchema, h(hex)));
      if (v.after_hex) open(v.after_hex);
      if (v.deliver_twice) open(v.session_envelope_hex);
      got = c.code(f, () => open(v.session_envelope_hex));
    } else if (v.kind === "token") {
      const uses = new f.MemoryTokenUseStore();
      const verify = () => f.verifyToken(v.token, { keys, audience: v.audience, scope: v.scope, holderKeyId: v.holder_key_id, clock: new f.FakeClock(v.now_ms), uses });
      if (v.deliver_twice) verify();
      got = c.code(f, verify);
    } else {
      got = `unknown negative kind ${v.kind}`;
    }
    c.eq(`negative "${v.name}"`, got, v.code);
  }
}

/** JSON text with object keys sorted, so two equal values compare equal as strings. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

async function checkWireSet(f: F, fx: Json, c: Checker): Promise<void> {
  const h = f.fromHex;
  const schemas = new Map<string, any>(
    [f.EnvelopeSchema, f.SignedEnvelopeSchema, f.SessionEnvelopeSchema, f.PacketSchema, f.TokenSchema, f.TokenClaimsSchema, f.RecipientSchema].map((s) => [s.typeName, s]),
  );
  c.eq("frame header size", f.FRAME_HEADER_BYTES, fx.frame.header_bytes);
  c.eq("frame maximum", f.MAX_FRAME_BYTES, fx.frame.max_frame_bytes);
  for (const v of fx.vectors) {
    const schema = schemas.get(v.message);
    if (!schema) {
      c.eq(`${v.name}: known message type`, v.message, "a type the browser bundle exports");
      continue;
    }
    const decoded = f.decodeMessage(schema, h(v.binary_hex));
    c.eq(`${v.name}: decode(binary) == JSON`, canonical(f.messageToJson(schema, decoded)), canonical(v.json));
    c.eq(`${v.name}: encode(JSON) == binary`, f.toHex(f.encodeMessage(schema, f.messageFromJson(schema, v.json))), v.binary_hex);
    if (!v.framed_hex) continue;
    // The same bytes as one WebSocket message: the browser transport's decoder.
    const body = f.decodeFrame(h(v.framed_hex));
    c.eq(`${v.name}: encodeFrame(body) == framed`, f.toHex(f.encodeFrame(body)), v.framed_hex);
    const packet = f.decodePacket(body);
    if (v.message === "fleet.v1.Packet") c.eq(`${v.name}: frame body`, f.toHex(body), v.binary_hex);
    else if (v.message === "fleet.v1.SessionEnvelope") c.eq(`${v.name}: frame carries a session envelope`, packet.kind.case, "session");
    else if (v.message === "fleet.v1.SignedEnvelope") c.eq(`${v.name}: frame carries it`, f.toHex(f.encodeMessage(f.SignedEnvelopeSchema, packet.kind.value as never)), v.binary_hex);
    else c.eq(`${v.name}: frame carries its signed bytes`, packet.kind.case === "signed" ? f.toHex(packet.kind.value.payload) : packet.kind.case, v.binary_hex);
  }
  for (const n of fx.negative) {
    const bytes = () => h(n.input_hex ?? "");
    const run: Record<string, () => unknown> = {
      frame: () => {
        const d = new f.FrameDecoder();
        d.push(bytes());
        d.end();
      },
      "envelope-binary": () => f.decodeEnvelope(bytes()),
      "packet-binary": () => f.decodePacket(bytes()),
      "envelope-json": () => f.envelopeFromJson(n.input_json),
      "envelope-json-bytes": () => f.envelopeFromJson(f.parseJsonBytes(bytes())),
    };
    let got: number | string;
    let pointer: string | undefined;
    try {
      if (!run[n.decoder]) throw new Error(`unknown decoder ${n.decoder}`);
      run[n.decoder]();
      got = "none";
    } catch (e) {
      got = e instanceof f.FleetError ? e.code : `non-FleetError: ${e instanceof Error ? e.message : String(e)}`;
      pointer = e instanceof f.FleetError ? e.pointer : undefined;
    }
    c.eq(`negative "${n.name}" code`, got, n.code);
    if (n.pointer !== undefined) c.eq(`negative "${n.name}" pointer`, pointer, n.pointer);
  }
}

const SETS: Record<string, (f: F, fx: Json, c: Checker) => Promise<void>> = {
  crypto: checkCryptoSet,
  wire: checkWireSet,
};

async function fetchBytes(path: string): Promise<Uint8Array> {
  const res = await fetch(path);
  if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * Verifies the sets listed in /fixtures/manifest.json (their sha256 first) when there is one,
 * otherwise the given file names.
 */
export async function verifyFixtures(f: F, opts: { manifest: boolean; files: string[] }): Promise<FixtureReport> {
  const report: FixtureReport = { checks: {}, failures: [], unknownSets: [], ed25519: [] };
  let files: { set: string; file: string; sha256?: string }[];
  if (opts.manifest) {
    const manifest = JSON.parse(new TextDecoder().decode(await fetchBytes("/fixtures/manifest.json"))) as Json;
    const m = new Checker("manifest");
    files = normaliseManifest(manifest);
    m.true("lists at least one set", files.length > 0);
    report.checks.manifest = m.count;
    report.failures.push(...m.failures);
  } else {
    files = opts.files.map((file) => ({ set: file.replace(/\.json$/, ""), file }));
  }
  for (const { set, file, sha256 } of files) {
    const c = new Checker(set);
    const bytes = await fetchBytes(`/fixtures/${file}`);
    if (sha256) c.eq(`${file} sha256 matches the manifest`, await sha256Hex(bytes), sha256);
    const check = SETS[set];
    if (!check) {
      report.unknownSets.push(set);
      continue;
    }
    try {
      await check(f, JSON.parse(new TextDecoder().decode(bytes)), c);
    } catch (e) {
      c.failures.push(`${set}: threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    }
    report.checks[set] = c.count;
    report.failures.push(...c.failures);
  }
  report.ed25519.push((await f.ed25519Backends.find((b) => b.name === "webcrypto")?.available()) ? "webcrypto" : "noble");
  return report;
}

/** The manifest's list of sets, whatever its exact shape (array or map of entries). */
function normaliseManifest(manifest: Json): { set: string; file: string; sha256?: string }[] {
  const entries: Json[] = Array.isArray(manifest.sets) ? manifest.sets : Array.isArray(manifest.files) ? manifest.files : Object.entries(manifest.sets ?? manifest.files ?? {}).map(([k, v]) => ({ name: k, ...(v as object) }));
  return entries.map((e) => {
    const file: string = e.file ?? e.path ?? `${e.name ?? e.set}.json`;
    return { set: e.set ?? e.name ?? file.replace(/\.json$/, ""), file: file.replace(/^fixtures\//, ""), sha256: e.sha256 };
  });
}
