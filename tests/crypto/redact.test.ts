import { describe, expect, it } from "vitest";
import { generateIdentity, redact, redactText, userSeed } from "../../runtime/crypto/index.js";

// Built at runtime so the repository itself holds no realistic-looking secrets.
const rep = (s: string, n: number) => s.repeat(n);
const PEM = ["-----BEGIN PRIVATE KEY-----", "MC4CAQAwBQYDK2VwBCIEIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f", "-----END PRIVATE KEY-----"].join("\n");
const JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhZ2VudC1hbGljZSJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmU";

const positives: [string, string, string][] = [
  ["openai key", `key is sk-${rep("A1b2", 6)}`, "[REDACTED:api-key]"],
  ["openai project key", `sk-proj-${rep("Zx9", 10)}`, "[REDACTED:api-key]"],
  ["github token", `ghp_${rep("a1B2", 9)}`, "[REDACTED:github-token]"],
  ["github fine-grained", `github_pat_${rep("A1b", 10)}`, "[REDACTED:github-token]"],
  ["aws key", `AKIA${rep("ABCD2345", 2)}`, "[REDACTED:aws-key]"],
  ["slack bot", `xoxb-${rep("1234-", 3)}abcdef`, "[REDACTED:slack-token]"],
  ["slack user", `xoxp-${rep("98765", 4)}`, "[REDACTED:slack-token]"],
  ["bearer", "Authorization: Bearer abc.def-ghi_jkl", "Bearer [REDACTED:bearer]"],
  ["bearer opaque", "authorization: bearer Zk39aQpLm2Xv", "bearer [REDACTED:bearer]"],
  ["basic", "Authorization: Basic dXNlcjpwYXNzd29yZA==", "Basic [REDACTED:bearer]"],
  ["pem", `before\n${PEM}\nafter`, "[REDACTED:private-key]"],
  ["pem with type", PEM.replaceAll("PRIVATE", "EC PRIVATE"), "[REDACTED:private-key]"],
  ["jwt", `token ${JWT} end`, "[REDACTED:jwt]"],
  ["fleet token", `fleet1.${rep("Ab1_", 8)}`, "[REDACTED:fleet-token]"],
  ["nats user seed", `seed ${userSeed(generateIdentity("a"))} end`, "seed [REDACTED:nkey-seed] end"],
  ["nats account seed", `SA${rep("B3XK7Q2M", 7)}`, "[REDACTED:nkey-seed]"],
  ["long hex", `seed=${rep("0123456789abcdef", 4)}`, "[REDACTED"],
  ["long base64", `blob ${Buffer.from(Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 255)).toString("base64")}`, "[REDACTED:base64-secret]"],
  ["password assignment", "password=hunter2hunter2", "password=[REDACTED:secret]"],
  ["visa", "card 4111 1111 1111 1111 ok", "[REDACTED:card]"],
  ["mastercard", "5555555555554444", "[REDACTED:card]"],
  ["amex", "3782-822463-10005", "[REDACTED:card]"],
  // A base64 secret starting with "/" (as one in 64 do) is still a secret: its segments are random.
  ["base64 starting with a slash", `at /${Buffer.from(Uint8Array.from({ length: 30 }, (_, i) => (i * 53 + 7) & 255)).toString("base64").replaceAll("/", "x")}`, "[REDACTED:base64-secret]"],
];

const negatives: string[] = [
  "task-list",
  "sk-learn is a library",
  "the task-list and the skeleton key",
  "550e8400-e29b-41d4-a716-446655440000",
  "ed25519:abcdefghijklmnopqrstuvwxyz234567",
  "UAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3RLKK", // a NATS user public key (spec/nats-auth.md's vector)
  "hmac:mfrggzdfmztwq2lknnwg23tpobyxe43u",
  "created at 1763640000000 ms",
  "4111 1111 1111 1112", // fails Luhn
  "order 1234567890123456", // no card prefix
  "Bearer of good news",
  "token validation failed",
  "bearer credentials are checked first",
  "Token re-validation",
  "Basic authentication is disabled",
  "The quick brown fox jumps over the lazy dog, twice over.",
  "/work/main/node_modules/@noble/hashes/sha2.js",
  // Real-looking paths (issue 12): mixed case and digits, long, but paths.
  "/home/alice/Projects/Fleet2024/keys/alpha.key",
  "cannot read /home/alice/Projects/Fleet2024/keys/alpha.key: EACCES (permission denied)",
  "/work/wt/issue-12-bounds/node_modules/better-sqlite3/build/Release/better_sqlite3.node",
  "/Users/BobSmith/Library/Application Support/FleetData2025/hub/hub.db",
  "store /var/lib/fleet/Agents/Team42/inbox/WorkerNode7/hub.db failed",
  "deadbeef",
  "my password is long",
  "AKIA is a prefix",
  "fleet.v1.envelope application/vnd.fleet.v1.envelope+proto",
];

describe("redaction", () => {
  it.each(positives)("redacts %s", (_name, input, expected) => {
    const out = redactText(input);
    expect(out).toContain(expected);
    // No 12-character run of the secret survives.
    const secret = input.replace(/^(key is |token |blob |card |seed=|before\n|authorization: (bearer|basic) )/i, "");
    if (secret.length > 24) expect(out).not.toContain(secret.slice(8, 20));
  });

  it.each(negatives)("keeps %s", (input) => {
    expect(redactText(input)).toBe(input);
  });

  it("works at any depth of objects and arrays, by value and by field name", () => {
    const input = {
      message: "ok",
      nested: { list: [{ deeper: [`ghp_${rep("a1B2", 9)}`] }], count: 3, token: 7 },
      headers: { authorization: "anything at all" },
      seed: new Uint8Array([1, 2, 3]),
      keyId: "ed25519:abcdefghijklmnopqrstuvwxyz234567",
      name: "task-list",
    };
    const out = redact(input) as typeof input;
    expect(out.nested.list[0].deeper[0]).toBe("[REDACTED:github-token]");
    expect(out.headers.authorization).toBe("[REDACTED:secret]");
    expect(out.seed as unknown).toBe("[REDACTED:secret]");
    expect(out.nested.count).toBe(3);
    expect(out.nested.token).toBe(7);
    expect(out.keyId).toBe(input.keyId);
    expect(out.name).toBe("task-list");
    // The input is not modified.
    expect(input.nested.list[0].deeper[0]).toMatch(/^ghp_/);
  });

  it("survives cycles and absurd depth", () => {
    const a: Record<string, unknown> = { s: "x" };
    a.self = a;
    expect(() => redact(a)).not.toThrow();
    let deep: unknown = "sk-" + rep("Q1w2", 6);
    for (let i = 0; i < 200; i++) deep = [deep];
    expect(JSON.stringify(redact(deep))).not.toContain("Q1w2Q1w2");
  });

  it("an identity serialized for logs carries no seed", () => {
    const id = generateIdentity("agent");
    expect(JSON.stringify(redact({ id }))).toContain(id.keyId);
  });
});
