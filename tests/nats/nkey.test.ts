// An agent's Ed25519 key as a NATS user nkey: the text forms agree with nkeys.js (the copy
// nats.js ships, an independent implementation of the nkeys spec), a signature made for the
// server's nonce verifies with it, and bad text is refused with its code.
import { readFileSync } from "node:fs";
import { nkeys } from "nats";
import { describe, expect, it } from "vitest";
import { exportSeed, identityFromSeed, verifyEd25519 } from "../../runtime/crypto/index.js";
import { ErrorCode } from "../../runtime/errors.js";
import { durableName, replyPrefix } from "../../runtime/nats/subjects.js";
import { crc16, identityAuthenticator, identityFromUserSeed, publicKeyOfUserNkey, userNkey, userSeed } from "../../runtime/nats/nkey.js";
import { codeOf } from "../protocol/helpers.js";

const seed = Uint8Array.from({ length: 32 }, (_, i) => (i * 7 + 3) & 0xff);
const alice = identityFromSeed("alice", seed);

describe("nkeys: an identity as a NATS user", () => {
  it("the user public key and seed are the ones nkeys.js derives from the same seed", () => {
    const text = userSeed(alice);
    expect(text.startsWith("SU")).toBe(true);
    expect(text).toHaveLength(58);
    const kp = nkeys.fromSeed(new TextEncoder().encode(text));
    expect(kp.getPublicKey()).toBe(userNkey(alice.publicKey));
    expect(userNkey(alice.publicKey)).toMatch(/^U[A-Z2-7]{55}$/);
    // nkeys.js's own fresh user: our decoding of its public key is its raw key.
    const theirs = nkeys.createUser();
    expect(userNkey(publicKeyOfUserNkey(theirs.getPublicKey()))).toBe(theirs.getPublicKey());
    const theirSeed = new TextDecoder().decode(theirs.getSeed());
    expect(userNkey(identityFromUserSeed("x", theirSeed).publicKey)).toBe(theirs.getPublicKey());
    expect(exportSeed(identityFromUserSeed("alice", text))).toEqual(seed);
  });

  it("the authenticator answers a nonce with a signature nkeys.js verifies, without the seed", () => {
    const auth = identityAuthenticator(() => alice)("a-server-nonce") as { nkey: string; sig: string };
    expect(auth.nkey).toBe(userNkey(alice.publicKey));
    const sig = Uint8Array.from(atob(auth.sig.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
    expect(verifyEd25519(alice.publicKey, new TextEncoder().encode("a-server-nonce"), sig)).toBe(true);
    expect(nkeys.fromPublic(auth.nkey).verify(new TextEncoder().encode("a-server-nonce"), sig)).toBe(true);
    expect(JSON.stringify(auth)).not.toContain(userSeed(alice).slice(2, 20));
  });

  it("spec/nats-auth.md's vector: seed 00..1f, its user key and seed, alice's reply prefix and durables", async () => {
    const spec = readFileSync(new URL("../../spec/nats-auth.md", import.meta.url), "utf8");
    const row = (name: string) => new RegExp(`^\\| ${name} \\| (.+) \\|$`, "m").exec(spec)?.[1];
    const id = identityFromSeed("alice", Uint8Array.from({ length: 32 }, (_, i) => i));
    expect(row("seed \\(hex\\)")).toBe("`000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f`");
    expect(row("user public key")).toBe(`\`${userNkey(id.publicKey)}\``);
    expect(row("user seed")).toBe(`\`${userSeed(id)}\``);
    expect(nkeys.fromSeed(new TextEncoder().encode(userSeed(id))).getPublicKey()).toBe(userNkey(id.publicKey));
    expect(row("reply prefix of agent `alice`")).toBe(`\`${await replyPrefix("alice")}\``);
    expect(row("durable consumers of `alice`")).toBe(`\`${await durableName("inbox", "alice")}\`, \`${await durableName("bottles", "alice")}\``);
  });

  it("CRC-16/XMODEM of the check string is 0x31C3", () => {
    expect(crc16(new TextEncoder().encode("123456789"))).toBe(0x31c3);
  });

  it("a changed character, a wrong prefix or garbage is refused (606)", () => {
    const pub = userNkey(alice.publicKey);
    const flipped = pub.slice(0, 10) + (pub[10] === "A" ? "B" : "A") + pub.slice(11);
    expect(codeOf(() => publicKeyOfUserNkey(flipped))).toBe(ErrorCode.SECURITY_MALFORMED_KEY);
    expect(codeOf(() => publicKeyOfUserNkey(nkeys.createAccount().getPublicKey()))).toBe(ErrorCode.SECURITY_MALFORMED_KEY);
    expect(codeOf(() => publicKeyOfUserNkey("not an nkey!"))).toBe(ErrorCode.SECURITY_MALFORMED_KEY);
    expect(codeOf(() => identityFromUserSeed("a", pub))).toBe(ErrorCode.SECURITY_MALFORMED_KEY);
  });
});
