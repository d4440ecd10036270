// TLS on the hub's TCP listener with a throwaway CA made here by the openssl CLI: a client that
// trusts the CA (or pins the certificate) connects and messages flow; one that trusts neither,
// pins another certificate, or speaks plain TCP does not; the hub refuses to listen off loopback
// without TLS unless told insecure.
import { execFileSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { ErrorCode, isFleetError } from "../../runtime/errors.js";
import { startHub } from "../../runtime/hub/start.js";
import { connectWebSocket, type ConnectWebSocketOptions } from "../../runtime/transport/websocket.js";
import { WebSocket as WS } from "ws";
import { cleanup, inProcessHub, runCli, tmpDir, until } from "./support.js";

afterEach(cleanup);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let dir: string;
const pem = (name: string) => readFileSync(join(dir, name), "utf8");

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

beforeAll(() => {
  // Not tmpDir(): cleanup() after each test would remove it; afterAll does.
  dir = mkdtempSync(join(tmpdir(), "fleet-tls-"));
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=fleet test CA");
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "hub.key", "-out", "hub.csr", "-subj", "/CN=localhost");
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  openssl("x509", "-req", "-in", "hub.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "hub.pem", "-days", "1", "-extfile", "ext.cnf");
  // A second, unrelated CA and certificate: for "trusts another CA" and "pins another certificate".
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "other.key", "-out", "other.pem", "-days", "1", "-subj", "/CN=other");
});

const tls = () => ({ cert: pem("hub.pem"), key: pem("hub.key") });
const fingerprint = (name: string) => createHash("sha256").update(new X509Certificate(pem(name)).raw).digest("hex");

describe("hub: TLS", () => {
  it("a client trusting the test CA connects over TLS and messages flow, verified end to end", async () => {
    const hub = await inProcessHub({ tls: tls() });
    const alpha = await connectHub({ port: hub.port, identity: generateIdentity("alpha"), tls: { ca: pem("ca.pem") } });
    const beta = await connectHub({ port: hub.port, identity: generateIdentity("beta"), tls: { ca: pem("ca.pem"), servername: "localhost" } });
    const got: Envelope[] = [];
    beta.onMessage((env) => got.push(env));
    await alpha.send({ to: "beta", json: { over: "tls" }, requiresAck: true });
    await until(() => got.length === 1);
    await alpha.close();
    await beta.close();
  });

  it("refuses (104) a client that trusts another CA or pins another certificate; a matching pin connects without the CA", async () => {
    const hub = await inProcessHub({ tls: tls() });
    const refused = (e: unknown) => isFleetError(e, ErrorCode.HANDSHAKE_AUTH_FAILED);
    await expect(connectHub({ port: hub.port, identity: generateIdentity("a"), tls: { ca: pem("other.pem") } })).rejects.toSatisfy(refused);
    await expect(connectHub({ port: hub.port, identity: generateIdentity("b"), tls: {} })).rejects.toSatisfy(refused);
    await expect(connectHub({ port: hub.port, identity: generateIdentity("c"), tls: { pinSha256: fingerprint("other.pem") } })).rejects.toSatisfy(refused);
    const pinned = await connectHub({ port: hub.port, identity: generateIdentity("d"), tls: { pinSha256: fingerprint("hub.pem").replace(/(..)(?!$)/g, "$1:").toUpperCase() } });
    await pinned.close();
  });

  it("the WebSocket listener is wss:// with the same certificate: a client trusting the CA connects, one trusting another CA does not", async () => {
    const hub = await inProcessHub({ tls: tls(), wsPort: 0 });
    expect(hub.wsUrl).toMatch(/^wss:\/\//);
    const trusting = (ca: string) =>
      class extends WS {
        constructor(url: string, protocol: string) {
          super(url, protocol, { ca });
        }
      } as unknown as ConnectWebSocketOptions["WebSocket"];
    const conn = await connectWebSocket(hub.wsUrl!.replace("127.0.0.1", "localhost"), { WebSocket: trusting(pem("ca.pem")) });
    const alpha = await connectHub({ port: 0, identity: generateIdentity("ws-alpha"), conn });
    const beta = await connectHub({ port: hub.port, identity: generateIdentity("ws-beta"), tls: { ca: pem("ca.pem") } });
    const got: Envelope[] = [];
    beta.onMessage((env) => got.push(env));
    await alpha.send({ to: "ws-beta", json: { over: "wss" }, requiresAck: true });
    await until(() => got.length === 1);
    await expect(connectWebSocket(hub.wsUrl!, { WebSocket: trusting(pem("other.pem")), timeoutMs: 3_000 })).rejects.toSatisfy((e: unknown) => isFleetError(e));
    await alpha.close();
    await beta.close();
  });

  it("a plain TCP client gets no session from a TLS listener", async () => {
    const hub = await inProcessHub({ tls: tls() });
    await expect(connectHub({ port: hub.port, identity: generateIdentity("plain"), handshakeTimeoutMs: 2_000 })).rejects.toSatisfy((e: unknown) => isFleetError(e));
  });

  it("refuses to listen on a non-loopback address without TLS (603) or with a plain ws:// listener, before binding anything", async () => {
    const storeDir = join(tmpDir(), "hub");
    await expect(startHub({ storeDir, identity: generateIdentity("fleet-hub"), host: "0.0.0.0", port: 0 })).rejects.toSatisfy((e: unknown) => isFleetError(e, ErrorCode.SECURITY_UNAUTHORIZED));
    await expect(startHub({ storeDir, identity: generateIdentity("fleet-hub"), host: "192.0.2.1", port: 0, wsPort: 0 })).rejects.toSatisfy((e: unknown) => isFleetError(e, ErrorCode.SECURITY_UNAUTHORIZED));
  });

  it("fleet hub --host 0.0.0.0 without --tls-cert exits with 603; --tls-cert without --tls-key is a usage error (exit 2)", async () => {
    const home = tmpDir();
    const plain = await runCli(["hub", "--host", "0.0.0.0", "--port", "0"], home);
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toContain("603");
    const half = await runCli(["hub", "--port", "0", "--tls-cert", join(dir, "hub.pem")], home);
    expect(half.code).toBe(2);
    expect(half.stderr.trim()).toBe("fleet: --tls-cert and --tls-key go together");
  });
});
