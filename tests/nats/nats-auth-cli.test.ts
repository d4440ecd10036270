// `fleet nats auth` end to end: the real CLI writes the authorization (0600, no secret in it
// or on stdout) from a home's identities and a group chain, reloads a real nats-server by its
// pid file and provisions the streams and consumers as the admin; agents of that home then
// talk through the server with --nats, and an agent whose key is not in it is refused (603).
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupSendPolicy } from "../../generated/proto/fleet/v1/group_pb.js";
import { toBase64Url } from "../../runtime/crypto/index.js";
import { FileKeystore } from "../../runtime/node/keystore.js";
import { userSeed } from "../../runtime/nats/nkey.js";
import { applyGroupStatement, issueInvite, KeyHistory, signGroupStatement } from "../../runtime/protocol/groups/index.js";
import { hasNatsServer, natsSkipMessage, startNatsServer, type NatsServerHandle } from "../support/nats-server.js";

if (!hasNatsServer) console.warn(natsSkipMessage);

const run = promisify(execFile);
const bin = fileURLToPath(new URL("../../bin/fleet.js", import.meta.url));

describe.skipIf(!hasNatsServer)("fleet nats auth", () => {
  let server: NatsServerHandle | undefined;
  let dir: string;
  let home: string;
  const fleet = async (args: string[], at = home) => {
    const r = await run(process.execPath, [bin, ...args, "--home", at, "--json"], { timeout: 60_000 }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    return { code: "code" in r && typeof r.code === "number" ? r.code : 0, stdout: r.stdout, json: JSON.parse(r.stdout || r.stderr) as Record<string, unknown> };
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "fleet-nats-auth-cli-"));
    home = join(dir, "home");
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("writes the authorization, reloads nats-server, provisions consumers; the home's agents talk and a foreign key is refused", async () => {
    for (const a of ["operator", "alpha", "beta"]) expect((await fleet(["keygen", "--agent-id", a])).code).toBe(0);
    const ks = new FileKeystore(join(home, "keys"));
    const [alpha, beta] = [ks.load("alpha"), ks.load("beta")];
    // The ops chain (the hub's group.chain answer form): alpha creates it, beta joins.
    const create = signGroupStatement({ group: "ops", seq: 1n, prev: new Uint8Array(), at: Date.now() - 2000, action: { case: "create", value: { policy: { send: GroupSendPolicy.MEMBERS, joinApproval: false } } } }, alpha);
    const created = applyGroupStatement(undefined, create, new KeyHistory().add("alpha", alpha.publicKey));
    const invite = issueInvite("ops", alpha, { uses: 1 }); // issued before the join is dated
    const join_ = signGroupStatement({ group: "ops", seq: 2n, prev: created.head, at: Date.now(), action: { case: "join", value: { invite } } }, beta);
    const chainFile = join(dir, "ops.chain.json");
    writeFileSync(chainFile, JSON.stringify({ group: "ops", statements: [create, join_].map(toBase64Url) }));

    const authFile = join(dir, "fleet-auth.conf");
    const first = await fleet(["nats", "auth", "--out", authFile, "--chain", chainFile]);
    expect(first.json, first.stdout).toMatchObject({ ok: true, admin: "operator", agents: ["alpha", "beta"], groups: { ops: ["alpha", "beta"] }, reloaded: null, provisioned: null });
    expect(statSync(authFile).mode & 0o777).toBe(0o600);
    const text = readFileSync(authFile, "utf8");
    for (const id of [alpha, beta, ks.load("operator")]) {
      expect(text).not.toContain(userSeed(id));
      expect(first.stdout).not.toContain(userSeed(id));
    }

    // nats-server with JetStream and a pid file in its config, the authorization included.
    const pidFile = join(dir, "nats.pid");
    const config = join(dir, "server.conf");
    writeFileSync(config, `jetstream { store_dir: ${JSON.stringify(join(dir, "js"))} }\npid_file: ${JSON.stringify(pidFile)}\ninclude "fleet-auth.conf"\n`);
    server = await startNatsServer({ config });
    const second = await fleet(["nats", "auth", "--out", authFile, "--chain", chainFile, "--reload", pidFile, "--nats", server.url]);
    expect(second.json).toMatchObject({ ok: true, reloaded: server.pid, provisioned: server.url });

    const sent = await fleet(["send", "beta", "hello under nkeys", "--agent", "alpha", "--nats", server.url]);
    expect(sent.json).toMatchObject({ ok: true, accepted: true });
    const inbox = await fleet(["inbox", "--agent", "beta", "--nats", server.url]);
    expect(inbox.json.messages).toEqual([expect.objectContaining({ from: "alpha", verified: true, payload: "hello under nkeys" })]);

    // Same name, another key (another home): nats-server refuses the login.
    const other = join(dir, "other");
    await fleet(["keygen", "--agent-id", "alpha"], other);
    const refused = await fleet(["send", "beta", "let me in", "--agent", "alpha", "--nats", server.url], other);
    expect(refused.code).toBe(1);
    expect(refused.json).toMatchObject({ ok: false, error: { code: 603 } });

    // A group made over NATS (its chain in FLEET_GROUPS, under nkeys): the next run reads it from there.
    expect((await fleet(["group", "create", "dev", "--agent", "alpha", "--nats", server.url])).json).toMatchObject({ ok: true });

    // A newcomer is introduced out of band by a signed file: the operator's `fleet verify` pins its
    // key (peers.json), the next `fleet nats auth` lists it, and after the reload it logs in.
    const newcomer = join(dir, "newcomer");
    await fleet(["keygen", "--agent-id", "dave"], newcomer);
    const hello = join(dir, "hello.txt");
    writeFileSync(hello, "dave's key, for the operator\n");
    expect((await fleet(["sign", hello, "--out", `${hello}.sig`, "--agent", "dave"], newcomer)).code).toBe(0);
    expect((await fleet(["send", "beta", "too early", "--agent", "dave", "--nats", server.url], newcomer)).json).toMatchObject({ ok: false, error: { code: 603 } });
    expect((await fleet(["verify", hello, `${hello}.sig`])).json).toMatchObject({ ok: true, agent: "dave", newly_pinned: true });
    const third = await fleet(["nats", "auth", "--out", authFile, "--chain", chainFile, "--reload", pidFile, "--nats", server.url]);
    expect(third.json).toMatchObject({ ok: true, agents: ["alpha", "beta", "dave"], groups: { dev: ["alpha"], ops: ["alpha", "beta"] } });
    await server.logged("Reloaded server configuration", 10_000, 2);
    expect((await fleet(["send", "beta", "hello from dave", "--agent", "dave", "--nats", server.url], newcomer)).json).toMatchObject({ ok: true, accepted: true });

    // dave rotates its key (stored in FLEET_KEYS under its own subject); its new key is refused
    // until the operator's next run, which applies FLEET_KEYS to its pin, lists the new key and reloads.
    expect((await fleet(["keys", "rotate", "--agent-id", "dave", "--nats", server.url], newcomer)).json).toMatchObject({ ok: true, agent: "dave" });
    expect((await fleet(["send", "beta", "new key", "--agent", "dave", "--nats", server.url], newcomer)).json).toMatchObject({ ok: false, error: { code: 603 } });
    const fourth = await fleet(["nats", "auth", "--out", authFile, "--chain", chainFile, "--reload", pidFile, "--nats", server.url]);
    expect(fourth.json).toMatchObject({ ok: true, agents: ["alpha", "beta", "dave"], rotated: ["dave"], revoked: [] });
    await server.logged("Reloaded server configuration", 10_000, 3);
    expect((await fleet(["send", "beta", "new key", "--agent", "dave", "--nats", server.url], newcomer)).json).toMatchObject({ ok: true, accepted: true });
  }, 300_000);

  it("says what is missing: --out, a chain that is not one, a pid that is not one", async () => {
    expect((await fleet(["nats", "auth"])).code).toBe(2);
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ group: "ops" }));
    expect((await fleet(["nats", "auth", "--out", join(dir, "x.conf"), "--chain", bad])).json).toMatchObject({ ok: false, error: { code: 708 } });
    expect((await fleet(["nats", "auth", "--out", join(dir, "x.conf"), "--reload", "1"])).code).toBe(2);
  }, 60_000);
});
