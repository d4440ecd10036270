import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { generateIdentity, toHex } from "../../runtime/crypto/index.js";
import { exportSeed } from "../../runtime/crypto/identity.js";
import { FleetError } from "../../runtime/errors.js";
import { defaultKeystoreDir, FileKeystore } from "../../runtime/node/keystore.js";

const root = mkdtempSync(join(tmpdir(), "fleet-keystore-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("FileKeystore", () => {
  it("saves 0600 files in a 0700 directory and loads the same identity", () => {
    const ks = new FileKeystore(join(root, "keys"));
    const id = generateIdentity("agent:alpha/1");
    const path = ks.save(id);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(ks.dir).mode & 0o777).toBe(0o700);
    const loaded = ks.load("agent:alpha/1");
    expect(loaded.keyId).toBe(id.keyId);
    const msg = new Uint8Array([1, 2, 3]);
    expect(toHex(loaded.sign(msg))).toBe(toHex(id.sign(msg)));
    expect(ks.list()).toEqual(["agent:alpha/1"]);
    expect(ks.has("agent:alpha/1")).toBe(true);
  });

  it("refuses key files others can read, and damaged ones, with typed errors that do not echo the file", () => {
    const ks = new FileKeystore(join(root, "k2"));
    const id = generateIdentity("beta");
    const path = ks.save(id);
    chmodSync(path, 0o644);
    expect(() => ks.load("beta")).toThrow(expect.objectContaining({ code: 603 }));
    chmodSync(path, 0o600);
    const seedText = JSON.parse(readFileSync(path, "utf8")).seed as string;
    writeFileSync(path, `{"fleet_key":1,"agent":"beta","seed":"${seedText}=","key_id":"x"`, { mode: 0o600 });
    try {
      ks.load("beta");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FleetError);
      expect((e as FleetError).code).toBe(606);
      expect((e as FleetError).message).not.toContain(seedText);
    }
    expect(() => ks.load("nobody")).toThrow(expect.objectContaining({ code: 503 }));
  });

  it("never shows the seed when an identity is logged or inspected", () => {
    const id = generateIdentity("gamma");
    const seedHex = toHex(exportSeed(id));
    const b64 = Buffer.from(exportSeed(id)).toString("base64url");
    for (const text of [inspect(id), JSON.stringify(id), String(id), inspect(new FileKeystore(root))]) {
      expect(text).not.toContain(seedHex);
      expect(text).not.toContain(b64);
    }
  });

  it("defaults to FLEET_HOME/keys", () => {
    expect(defaultKeystoreDir({ FLEET_HOME: "/x/y" })).toBe("/x/y/keys");
  });
});
