// FleetMcp's Streamable HTTP sessions are bounded: at MAX_HTTP_SESSIONS a new client is
// refused (503) unless the idlest session has been idle past the idle limit, which it replaces.
import { request as httpRequest } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { connectHub } from "../../runtime/client/hub-client.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { FleetMcp, MAX_HTTP_SESSIONS } from "../../runtime/mcp/server.js";
import { cleanup, inProcessHub } from "../hub/support.js";

afterEach(cleanup);

function initialize(url: string, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const r = httpRequest(url, { method: "POST", headers: { host, "content-type": "application/json", accept: "application/json, text/event-stream" } }, (res) => {
      resolve(res.statusCode ?? 0);
      res.destroy();
    });
    r.on("error", reject);
    r.end(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }));
  });
}

describe("fleet mcp HTTP sessions", () => {
  it("refuses beyond the bound while sessions are fresh, and replaces the idlest once it is idle", async () => {
    const running = await inProcessHub();
    const identity = generateIdentity("alpha");
    const conn = await connectHub({ port: running.port, identity });
    const fleet = new FleetMcp(conn, identity);
    const http = await fleet.serveHttp({ port: 0, sessionIdleMs: 3_000 });
    try {
      const host = `127.0.0.1:${http.port}`;
      for (let i = 0; i < MAX_HTTP_SESSIONS; i++) expect(await initialize(http.url, host)).toBe(200);
      expect(http.sessionCount).toBe(MAX_HTTP_SESSIONS);
      expect(await initialize(http.url, host)).toBe(503);
      await new Promise((r) => setTimeout(r, 3_100));
      expect(await initialize(http.url, host)).toBe(200);
      expect(http.sessionCount).toBe(MAX_HTTP_SESSIONS);
      // Only /mcp is served, and only to loopback Host headers.
      expect(await initialize(http.url.replace("/mcp", "/other"), host)).toBe(404);
      expect(await initialize(http.url, "attacker.example")).toBe(403);
    } finally {
      await http.close();
      await fleet.close();
      await conn.close();
    }
  });
});
