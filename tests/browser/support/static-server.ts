// Serves directories and in-memory files over http://127.0.0.1:<ephemeral>, because pages
// opened from file:// lose ES modules, WebSocket origin rules and WebCrypto's secure context.
import { createServer, type Server } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join, resolve, sep } from "node:path";
import type { AddressInfo } from "node:net";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

export function contentType(path: string): string {
  return TYPES[extname(path).toLowerCase()] ?? "application/octet-stream";
}

export interface StaticServerOptions {
  /** URL prefix ("/", "/fixtures/") -> directory served under it. */
  dirs?: Record<string, string>;
  /** Exact URL path -> file body (bundles built in memory, generated pages). */
  files?: Record<string, string | Uint8Array>;
}

export interface StaticServer {
  /** "http://127.0.0.1:<port>" without a trailing slash. */
  readonly origin: string;
  /** Adds or replaces an in-memory file while the server runs. */
  put(path: string, body: string | Uint8Array): void;
  close(): Promise<void>;
}

export async function startStaticServer(options: StaticServerOptions = {}): Promise<StaticServer> {
  const files = new Map(Object.entries(options.files ?? {}));
  // Longest prefix first, so "/fixtures/" wins over "/".
  const dirs = Object.entries(options.dirs ?? {})
    .map(([prefix, dir]) => [prefix.endsWith("/") ? prefix : `${prefix}/`, resolve(dir)] as const)
    .sort((a, b) => b[0].length - a[0].length);

  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
      const send = (status: number, body: string | Uint8Array, type = "text/plain; charset=utf-8") => {
        res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
        res.end(body);
      };
      if (req.method !== "GET" && req.method !== "HEAD") return send(405, "method not allowed");
      const mem = files.get(path);
      if (mem !== undefined) return send(200, mem, contentType(path));
      for (const [prefix, dir] of dirs) {
        if (!path.startsWith(prefix)) continue;
        let file = resolve(join(dir, path.slice(prefix.length)));
        // Never serve anything outside the directory (../ in the URL).
        if (file !== dir && !file.startsWith(dir + sep)) return send(403, "forbidden");
        try {
          if ((await stat(file)).isDirectory()) file = join(file, "index.html");
          return send(200, await readFile(file), contentType(file));
        } catch {
          // Try the next (shorter) prefix.
        }
      }
      send(404, `not found: ${path}`);
    })().catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(e));
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    put: (path, body) => void files.set(path, body),
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
