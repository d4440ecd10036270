// keygen, sign FILE, verify FILE SIG: identities and detached file signatures
// (Ed25519 over PAE("fleet.v1.file", base name, SHA-256(bytes)), spec/signing.md).
import { createHash } from "node:crypto";
import { closeSync, createReadStream, openSync, readSync } from "node:fs";
import { basename } from "node:path";
import { Domain, fromBase64Url, fromHex, generateIdentity, keyIdFor, pae, toBase64Url, toHex, verifyEd25519 } from "../../crypto/index.js";
import { ErrorCode, FleetError } from "../../errors.js";
import { CliError, usageError } from "../cli-error.js";
import { type Command, required, str } from "../command.js";
import { assertReadable, fileError } from "../files.js";
import { readConfig, updateConfig, writeOutput } from "../home.js";
import { keystore, loadIdentity } from "../identities.js";
import { pinnedPeers } from "../peers.js";

/** A signature file is small: at most this many bytes are read (so /dev/zero is refused, not slurped). */
const MAX_SIG_FILE_BYTES = 65_536;

function readInput(path: string): Uint8Array {
  const buf = new Uint8Array(MAX_SIG_FILE_BYTES + 1);
  let n = 0;
  try {
    const fd = openSync(path, "r");
    try {
      for (let got = -1; got !== 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, null);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw fileError(path, e);
  }
  if (n > MAX_SIG_FILE_BYTES) throw new FleetError(ErrorCode.WIRE_FRAME_TOO_LARGE, `${path} is larger than a signature file can be (${MAX_SIG_FILE_BYTES} bytes)`);
  return buf.subarray(0, n);
}

/**
 * The bytes a file signature covers, hashing the file as a stream: memory stays constant
 * whatever its size (a device like /dev/zero just never ends, and Ctrl-C still works).
 */
async function fileDigestBytes(path: string, interrupted?: Promise<void>): Promise<Uint8Array> {
  const hash = createHash("sha256");
  let stopped = false;
  void interrupted?.then(() => (stopped = true));
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      if (stopped) throw new FleetError(ErrorCode.UNKNOWN_ERROR, `interrupted while reading ${path}`);
      hash.update(chunk as Buffer);
    }
  } catch (e) {
    if (e instanceof FleetError) throw e;
    throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return pae(Domain.file, basename(path), new Uint8Array(hash.digest()));
}

export const keygen: Command = {
  name: "keygen",
  summary: "create an Ed25519 identity for an agent (key file 0600 in FLEET_HOME/keys)",
  usage: "fleet keygen --agent-id NAME [--force]",
  options: { "agent-id": { type: "string" }, force: { type: "boolean" } },
  async run(ctx) {
    const agent = str(ctx, "agent-id");
    if (!agent) throw usageError("--agent-id NAME is required (see fleet keygen --help)");
    const ks = keystore(ctx.home);
    if (ks.has(agent) && !ctx.values.force) throw new CliError(`a key for ${agent} already exists in ${ctx.home}/keys (use --force to replace it)`);
    const id = generateIdentity(agent);
    ks.save(id);
    if (!readConfig(ctx.home).agent) updateConfig(ctx.home, { agent });
    ctx.out.line(`created ${agent} ${id.keyId}`);
    ctx.out.result({ ok: true, agent, key_id: id.keyId, home: ctx.home });
  },
};

export const sign: Command = {
  name: "sign",
  summary: "sign a file (writes FILE.sig, a small JSON document)",
  usage: "fleet sign FILE [--out SIGFILE] [--agent NAME]",
  options: { out: { type: "string" } },
  async run(ctx) {
    const file = required(ctx, 0, "FILE");
    assertReadable(file); // before anything else: `fleet sign missing.txt` says the file is missing
    const id = loadIdentity(ctx.home, str(ctx, "agent"));
    const sig = id.sign(await fileDigestBytes(file, ctx.interrupted));
    const out = str(ctx, "out") ?? `${file}.sig`;
    const doc = { fleet_file_signature: 1, file: basename(file), agent: id.agent, key_id: id.keyId, public_key: toHex(id.publicKey), sig: toBase64Url(sig) };
    writeOutput(out, JSON.stringify(doc, null, 2) + "\n");
    ctx.out.line(`signed ${file} as ${id.agent} (${id.keyId}) -> ${out}`);
    ctx.out.result({ ok: true, file, signature: out, agent: id.agent, key_id: id.keyId });
  },
};

export const verify: Command = {
  name: "verify",
  summary: "verify FILE against a signature file (pins the signer on first use)",
  usage: "fleet verify FILE SIGFILE",
  async run(ctx) {
    const [file, sigFile] = ctx.positionals;
    if (!file || !sigFile) throw usageError("FILE and SIGFILE are required (see fleet verify --help)");
    let doc: { agent?: string; key_id?: string; public_key?: string; sig?: string };
    try {
      doc = JSON.parse(new TextDecoder().decode(readInput(sigFile)));
    } catch (e) {
      if (e instanceof FleetError) throw e;
      throw new CliError(`${sigFile} is not a fleet signature file`);
    }
    if (!doc.agent || !doc.key_id || !doc.public_key || !doc.sig) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, `${sigFile} lacks agent, key_id, public_key or sig`);
    const publicKey = fromHex(doc.public_key, ErrorCode.SECURITY_MALFORMED_KEY);
    if (keyIdFor(publicKey) !== doc.key_id) throw new FleetError(ErrorCode.SECURITY_MALFORMED_KEY, "key_id does not match public_key");
    const sig = fromBase64Url(doc.sig, ErrorCode.SECURITY_MALFORMED_KEY);
    if (!verifyEd25519(publicKey, await fileDigestBytes(file, ctx.interrupted), sig)) throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, `signature does not match ${file}`);
    // Only a valid signature may pin a name; a different key for a pinned name is 607.
    const peers = pinnedPeers(ctx.home);
    const known = peers.keyIdOf(doc.agent) !== undefined;
    peers.pin(doc.agent, publicKey);
    ctx.out.line(`valid: ${file} signed by ${doc.agent} (${doc.key_id})${known ? "" : ", now pinned"}`);
    ctx.out.result({ ok: true, valid: true, file, agent: doc.agent, key_id: doc.key_id, newly_pinned: !known });
  },
};
