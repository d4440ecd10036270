// Runs inside the page: the fixture meaning check (tools/fixtures/meaning.ts) against the
// browser bundle passed in as `fleet`, reading fixtures/ over http:// exactly as a third-party
// implementation would, with Chromium's WebCrypto Ed25519 as the independent verifier of every
// signature. Every mismatch is reported with its vector's name.
import type * as Fleet from "../../../runtime/browser/index.js";
import { checkFixtureMeaning, type MeaningReport } from "../../../tools/fixtures/meaning.js";

export interface FixtureReport extends MeaningReport {
  /** How the signatures were checked: "webcrypto" when Chromium's Ed25519 cross-checked them too. */
  ed25519: string[];
}

async function webVerify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): Promise<boolean> {
  const key = await crypto.subtle.importKey("raw", publicKey as BufferSource, "Ed25519", false, ["verify"]);
  return crypto.subtle.verify("Ed25519", key, sig as BufferSource, msg as BufferSource);
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function fetchBytes(file: string): Promise<Uint8Array> {
  const res = await fetch(`/fixtures/${file}`);
  if (!res.ok) throw new Error(`GET /fixtures/${file}: ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** Verifies the sets listed in /fixtures/manifest.json. */
export async function verifyFixtures(f: typeof Fleet): Promise<FixtureReport> {
  const webcrypto = (await f.ed25519Backends.find((b) => b.name === "webcrypto")?.available()) === true;
  const report = await checkFixtureMeaning(f, fetchBytes, { sha256Hex, verifyEd25519: webcrypto ? webVerify : undefined });
  return { ...report, ed25519: [webcrypto ? "webcrypto" : "noble"] };
}
