import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { readFileSync } from "node:fs";
import * as ed from "@noble/ed25519";
import { afterEach, describe, expect, it } from "vitest";
import {
  ed25519Backends,
  generateIdentity,
  identityFromSeed,
  isCanonicalS,
  openSignedEnvelopeAsync,
  signEnvelope,
  StaticKeys,
  verifyEd25519,
  verifyEd25519Async,
} from "../../runtime/crypto/index.js";
import { webCryptoHasEd25519 } from "../../runtime/crypto/ed25519.js";
import { setNodeCryptoDisabled } from "../../runtime/crypto/node-crypto.js";
import { toHex } from "../../runtime/crypto/bytes.js";
import { envelope, seed } from "./helpers.js";

const msg = new TextEncoder().encode("fleet backends agree");

afterEach(() => setNodeCryptoDisabled(false));

const edgeCases = (JSON.parse(readFileSync(new URL("../../fixtures/crypto.json", import.meta.url), "utf8")) as { ed25519_vectors: { name: string; public_key_hex: string; message_hex: string; sig_hex: string; valid: boolean }[] }).ed25519_vectors;
const hx = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));

describe("Ed25519: one verdict on every input (spec/signing.md, fixtures/crypto.json ed25519_vectors)", () => {
  it("covers the 12 Taming-the-many-EdDSAs cases and the mixed-order key", () => {
    expect(edgeCases.filter((v) => v.name.startsWith("taming-eddsa case ")).length).toBe(12);
    expect(edgeCases.some((v) => v.name.startsWith("mixed-order key") && !v.valid)).toBe(true);
  });

  it.each(edgeCases.map((v) => [v.name, v] as const))("%s", async (_name, v) => {
    const [pk, msg, sig] = [hx(v.public_key_hex), hx(v.message_hex), hx(v.sig_hex)];
    const verdicts: Record<string, boolean> = { verifyEd25519: verifyEd25519(pk, msg, sig), verifyEd25519Async: await verifyEd25519Async(pk, msg, sig) };
    for (const b of ed25519Backends) if (await b.available()) verdicts[b.name] = await b.verify(pk, msg, sig);
    setNodeCryptoDisabled(true);
    verdicts["verifyEd25519 (no node:crypto)"] = verifyEd25519(pk, msg, sig);
    verdicts["verifyEd25519Async (no node:crypto: WebCrypto)"] = await verifyEd25519Async(pk, msg, sig);
    setNodeCryptoDisabled(false);
    expect(Object.keys(verdicts)).toEqual(expect.arrayContaining(["node", "webcrypto", "noble"]));
    for (const [who, got] of Object.entries(verdicts)) expect(`${who}: ${got}`).toBe(`${who}: ${v.valid}`);
  });

  it("the wrappers matter: raw @noble (cofactored) accepts the mixed-order vector and raw OpenSSL a small-order key", async () => {
    const mixed = edgeCases.find((v) => v.name.startsWith("mixed-order key") && !v.valid)!;
    expect(ed.verify(hx(mixed.sig_hex), hx(mixed.message_hex), hx(mixed.public_key_hex), { zip215: false })).toBe(true);
    const small = edgeCases.find((v) => v.name.startsWith("taming-eddsa case 0"))!;
    const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), hx(small.public_key_hex)]);
    expect(nodeVerify(null, hx(small.message_hex), createPublicKey({ key: spki, format: "der", type: "spki" }), hx(small.sig_hex))).toBe(true);
  });
});

describe("Ed25519 backends", () => {
  it("all available backends derive the same key, make identical signatures and accept each other's", async () => {
    const available = [];
    for (const b of ed25519Backends) if (await b.available()) available.push(b);
    // On Node all three exist; the test must not silently check fewer.
    expect(available.map((b) => b.name)).toEqual(["node", "webcrypto", "noble"]);
    for (let n = 0; n < 4; n++) {
      const s = seed(n * 7);
      const keys = await Promise.all(available.map((b) => b.publicKey(s)));
      const sigs = await Promise.all(available.map((b) => b.sign(s, msg)));
      for (const k of keys) expect(toHex(k)).toBe(toHex(keys[0]));
      for (const sig of sigs) expect(toHex(sig)).toBe(toHex(sigs[0]));
      for (const verifier of available) {
        for (const sig of sigs) expect(await verifier.verify(keys[0], msg, sig)).toBe(true);
        const bad = sigs[0].slice();
        bad[0] ^= 1;
        expect(await verifier.verify(keys[0], msg, bad)).toBe(false);
      }
    }
  });

  it("without node:crypto an identity signs with the fallbacks and the results match", async () => {
    const withNode = identityFromSeed("a", seed(11));
    const sigNode = withNode.sign(msg);
    setNodeCryptoDisabled(true);
    const without = identityFromSeed("a", seed(11));
    expect(toHex(without.publicKey)).toBe(toHex(withNode.publicKey));
    expect(toHex(without.sign(msg))).toBe(toHex(sigNode));
    expect(toHex(await without.signAsync(msg))).toBe(toHex(sigNode));
    expect(verifyEd25519(withNode.publicKey, msg, sigNode)).toBe(true);
    expect(await verifyEd25519Async(withNode.publicKey, msg, sigNode)).toBe(true);
  });

  it("openSignedEnvelopeAsync verifies through WebCrypto when node:crypto is absent", async () => {
    const signer = identityFromSeed("agent-alice", seed(12));
    const keys = new StaticKeys([signer]);
    const signed = signEnvelope(envelope(), signer);
    setNodeCryptoDisabled(true);
    expect(await webCryptoHasEd25519()).toBe(true);
    expect((await openSignedEnvelopeAsync(signed, { keys })).sender).toBe("agent-alice");
    const bad = { ...signed, payload: signed.payload.slice() };
    bad.payload[3] ^= 1;
    await expect(openSignedEnvelopeAsync(bad, { keys })).rejects.toMatchObject({ code: 601 });
  });

  it("matches the keep-protocol raw Ed25519 vector (seed 00..1f)", () => {
    const id = identityFromSeed("bot:alice", Uint8Array.from({ length: 32 }, (_, i) => i));
    expect(toHex(id.publicKey)).toBe("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8");
  });

  it("rejects S >= L, small-order keys and wrong lengths on every backend", async () => {
    const id = generateIdentity("x");
    const sig = id.sign(msg);
    // S + L is the classic malleability: it verifies under lax implementations.
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i]);
    const sPlusL = s + L;
    const mall = sig.slice();
    for (let i = 0; i < 32; i++) mall[32 + i] = Number((sPlusL >> BigInt(8 * i)) & 0xffn);
    expect(sPlusL < 2n ** 256n).toBe(true);
    expect(isCanonicalS(mall)).toBe(false);
    const identityPoint = new Uint8Array(32);
    identityPoint[0] = 1; // the neutral element: every signature "verifies" under lax rules
    for (const b of ed25519Backends) {
      if (!(await b.available())) continue;
      expect(await b.verify(id.publicKey, msg, mall)).toBe(false);
      expect(await b.verify(identityPoint, msg, sig)).toBe(false);
      expect(await b.verify(id.publicKey, msg, sig.subarray(0, 63))).toBe(false);
      expect(await b.verify(id.publicKey.subarray(0, 31), msg, sig)).toBe(false);
    }
    expect(() => identityFromSeed("x", new Uint8Array(31))).toThrow(expect.objectContaining({ code: 606 }));
  });

  it("never prints the seed", () => {
    const id = identityFromSeed("secretive", seed(3));
    const seedHex = toHex(seed(3));
    expect(JSON.stringify(id)).not.toContain(seedHex);
    expect(JSON.stringify(id)).toContain(id.keyId);
  });
});
