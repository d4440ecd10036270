// Runs inside the page (bundled by esbuild, no Node built-ins): Ed25519 and X25519 through
// WebCrypto and through @noble side by side, for the cross-check tests and the browser bench.
import * as ed from "@noble/ed25519";
import { x25519 } from "@noble/curves/ed25519.js";
import type * as Fleet from "../../../runtime/browser/index.js";
import { sha512 } from "@noble/hashes/sha2.js";

ed.hashes.sha512 = sha512;

const PKCS8_PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

async function webKeys(seed: Uint8Array): Promise<{ priv: CryptoKey; pub: CryptoKey }> {
  const priv = await crypto.subtle.importKey("pkcs8", new Uint8Array([...PKCS8_PREFIX, ...seed]), "Ed25519", false, ["sign"]);
  const pub = await crypto.subtle.importKey("raw", ed.getPublicKey(seed) as BufferSource, "Ed25519", false, ["verify"]);
  return { priv, pub };
}

/** Whether this browser's WebCrypto has Ed25519 and X25519. */
export async function webCryptoSupport(): Promise<{ ed25519: boolean; x25519: boolean }> {
  const probe = async (alg: string, usages: KeyUsage[]) => {
    try {
      await crypto.subtle.generateKey(alg, false, usages);
      return true;
    } catch {
      return false;
    }
  };
  return { ed25519: await probe("Ed25519", ["sign", "verify"]), x25519: await probe("X25519", ["deriveBits"]) };
}

/** Signs each message with both backends; reports whether signatures match and cross-verify. */
export async function crossCheck(seed: number[], messages: number[][]): Promise<{ identical: boolean; crossVerified: boolean; signatures: string[] }> {
  const s = new Uint8Array(seed);
  const { priv, pub } = await webKeys(s);
  const pk = ed.getPublicKey(s);
  let identical = true;
  let crossVerified = true;
  const signatures: string[] = [];
  for (const m of messages) {
    const msg = new Uint8Array(m);
    const web = new Uint8Array(await crypto.subtle.sign("Ed25519", priv, msg));
    const noble = ed.sign(msg, s);
    identical &&= web.length === 64 && web.every((b, i) => b === noble[i]);
    crossVerified &&= ed.verify(web, msg, pk) && (await crypto.subtle.verify("Ed25519", pub, noble as BufferSource, msg));
    // A flipped bit must fail on both.
    const bad = noble.slice();
    bad[5] ^= 1;
    crossVerified &&= !ed.verify(bad, msg, pk) && !(await crypto.subtle.verify("Ed25519", pub, bad as BufferSource, msg));
    signatures.push(Array.from(noble, (b) => b.toString(16).padStart(2, "0")).join(""));
  }
  return { identical, crossVerified, signatures };
}

const X25519_PKCS8_PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20];

/** X25519 agreement of two fixed private keys, by WebCrypto (deriveBits) and by noble, as hex. */
export async function x25519Agree(a: number[], b: number[]): Promise<{ webcrypto: string; noble: string; publicA: string }> {
  const hex = (u: Uint8Array) => Array.from(u, (x) => x.toString(16).padStart(2, "0")).join("");
  const privA = await crypto.subtle.importKey("pkcs8", new Uint8Array([...X25519_PKCS8_PREFIX, ...a]), "X25519", false, ["deriveBits"]);
  const pubB = await crypto.subtle.importKey("raw", x25519.getPublicKey(new Uint8Array(b)) as BufferSource, "X25519", false, []);
  const web = new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: pubB }, privA, 256));
  const noble = x25519.getSharedSecret(new Uint8Array(a), x25519.getPublicKey(new Uint8Array(b)));
  return { webcrypto: hex(web), noble: hex(noble), publicA: hex(x25519.getPublicKey(new Uint8Array(a))) };
}

async function rate(op: () => unknown | Promise<unknown>, minMs: number, concurrency = 1): Promise<number> {
  for (let i = 0; i < 20; i++) await op();
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs && n < 2_000_000) {
    if (concurrency === 1) await op();
    else await Promise.all(Array.from({ length: concurrency }, op));
    n += concurrency;
    elapsed = performance.now() - start;
  }
  return (n / elapsed) * 1000;
}

export interface Ed25519Rates {
  webcryptoSign: number;
  webcryptoSignParallel: number;
  nobleSign: number;
  webcryptoVerify: number;
  webcryptoVerifyParallel: number;
  nobleVerify: number;
}

/** Sign/verify rates of a `size`-byte message; WebCrypto sequentially and with `parallel` calls in flight. */
export async function ed25519Rates(minMs = 600, size = 200, parallel = 32): Promise<Ed25519Rates> {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const msg = crypto.getRandomValues(new Uint8Array(size));
  const { priv, pub } = await webKeys(seed);
  const pk = ed.getPublicKey(seed);
  const sig = ed.sign(msg, seed);
  const webSign = () => crypto.subtle.sign("Ed25519", priv, msg);
  const webVerify = () => crypto.subtle.verify("Ed25519", pub, sig as BufferSource, msg);
  return {
    webcryptoSign: await rate(webSign, minMs),
    webcryptoSignParallel: await rate(webSign, minMs, parallel),
    nobleSign: await rate(() => ed.sign(msg, seed), minMs),
    webcryptoVerify: await rate(webVerify, minMs),
    webcryptoVerifyParallel: await rate(webVerify, minMs, parallel),
    nobleVerify: await rate(() => ed.verify(sig, msg, pk), minMs),
  };
}

export interface EnvelopeRates {
  signSync: number;
  signAsync: number;
  openSync: number;
  openAsync: number;
}

/**
 * The runtime's own envelope paths in this page (the bundle passed in): signEnvelope and
 * openSignedEnvelope are synchronous, so in a browser they run on @noble; the Async
 * variants reach WebCrypto. A small application message, as agents send.
 */
export async function envelopeRates(f: typeof Fleet, minMs = 600): Promise<EnvelopeRates> {
  const id = f.generateIdentity("bench-browser");
  const keys = new f.StaticKeys([{ agent: id.agent, publicKey: id.publicKey }]);
  const draft = () => f.buildEnvelope({ to: "bench-peer", json: { n: 1, text: "x".repeat(100) } }, id.agent, f.systemClock);
  const signed = f.signEnvelope(draft(), id);
  return {
    signSync: await rate(() => f.signEnvelope(draft(), id), minMs),
    signAsync: await rate(() => f.signEnvelopeAsync(draft(), id), minMs),
    openSync: await rate(() => f.openSignedEnvelope(signed, { keys }), minMs),
    openAsync: await rate(() => f.openSignedEnvelopeAsync(signed, { keys }), minMs),
  };
}
