// `fleet hub --keep-port 0`: the real CLI process starts the keep bridge beside the hub; a
// keep client (Python, keep's wire rules) is answered, and the bridge secret is a 0600 file.
import { execFileSync } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { cleanup, spawnHub, tmpDir, until } from "../../hub/support.js";
import { startPythonDriver, type PythonDriver } from "../support/python-driver.js";

const HERE = import.meta.dirname;
let py: PythonDriver | undefined;

afterAll(async () => {
  await py?.stop();
  await cleanup();
});

it("fleet hub --keep-port starts a keep bridge that keep clients reach", async () => {
  const home = tmpDir("fleet-keep-cli-");
  const hub = await spawnHub(home, ["--keep-port", "0"]);
  let port = 0;
  await until(() => {
    const m = /"event":"bridge","peer":"keep","host":"[^"]+","port":(\d+)/.exec(hub.output());
    if (m) port = Number(m[1]);
    return port > 0;
  }, 20_000, "the keep bridge event");
  const gen = tmpDir("keep-pb2-");
  execFileSync("protoc", [`--proto_path=${HERE}`, `--python_out=${gen}`, join(HERE, "keep.proto")]);
  py = startPythonDriver(join(HERE, "keep_client.py"), [gen, "127.0.0.1", String(port)]);
  await py.call({ op: "new", as: "a" });
  const r = await py.call<{ reply: { body: string; src: string } }>({ op: "send", as: "a", src: "bot:cli", dst: "server", body: "hi" });
  expect(r.reply).toMatchObject({ src: "server", body: "done" });
  expect(statSync(join(home, "bridges", "bridge.secret")).mode & 0o777).toBe(0o600);
  expect(statSync(join(home, "bridges", "keep-names.json")).mode & 0o777).toBe(0o600);
});
