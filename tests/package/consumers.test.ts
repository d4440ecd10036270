// The package as its users get it: packed, installed from the tarball into a fresh project
// with none of our dev tools, and used there by every kind of consumer: plain Node ESM, a
// strict TypeScript project, esbuild and vite bundles running in Chromium against a Node
// agent, the examples/ (Node, TypeScript, browser, NATS, request/response), and the same
// .mjs under Bun and Deno when the npm registry serves them. Sizes and times are printed.
import { mkdirSync, readFileSync, copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasNatsServer, natsSkipMessage, startNatsServer } from "../support/nats-server.js";
import { launchChromium, chromiumMissing } from "../browser/support/chromium.js";
import { startStaticServer } from "../browser/support/static-server.js";
import { packAndInstall, run, startLines, treeBytes, type PackedProject } from "./support/project.js";

// The runtimes tried for (d), pinned: the npm packages carry their Linux binaries.
const OTHER_RUNTIMES = { bun: "bun@1.4.4", deno: "deno@2.9.6" } as const;
const KiB = 1024;
const MiB = 1024 * 1024;
const ran: Record<string, string> = {};

let p: PackedProject;
const node = (args: string[], env?: NodeJS.ProcessEnv, timeoutMs?: number) => run(process.execPath, args, { cwd: p.dir, env, timeoutMs });
const bin = (name: string) => join(p.dir, "node_modules/.bin", name);

beforeAll(async () => {
  p = await packAndInstall();
  console.log(
    [
      `tarball ${(p.tarballBytes / KiB).toFixed(0)} KiB (${p.files.length} files, ${(p.packageUnpackedBytes / MiB).toFixed(2)} MiB unpacked)`,
      `core install (npm install <tarball>): ${(p.coreInstallMs / 1000).toFixed(1)} s, ${(p.coreInstallBytes / MiB).toFixed(2)} MiB (${(p.coreInstallBytes / 1e6).toFixed(2)} MB) unpacked in node_modules: ${p.coreInstalled.join(", ")}`,
    ].join("\n"),
  );
}, 300_000);

afterAll(() => {
  console.log(`consumer matrix: ${Object.entries(ran).map(([k, v]) => `${k}: ${v}`).join("; ")}`);
  p?.cleanup();
});

describe("the packed package", () => {
  it("ships compiled JavaScript with declarations, and nothing of the repository's tools", () => {
    expect(p.files).toContain("dist/runtime/index.js");
    expect(p.files).toContain("dist/runtime/index.d.ts");
    expect(p.files).toContain("bin/fleet.js");
    expect(p.files).toContain("fixtures/wire.json");
    const stray = p.files.filter((f) => /^(tests|tools|bench|spec|runtime|generated|\.ci)\//.test(f) || (/\.ts$/.test(f) && !/\.d\.ts$/.test(f)));
    expect(stray).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(p.dir, "node_modules/fleet-protocol/package.json"), "utf8")) as Record<string, unknown>;
    expect(pkg.private).toBeUndefined();
    // Every exported path exists in the package, with its declarations.
    for (const [entry, target] of Object.entries(pkg.exports as Record<string, string | { types: string; default: string }>)) {
      if (typeof target === "string") continue;
      for (const file of [target.types, target.default]) expect(existsSync(join(p.dir, "node_modules/fleet-protocol", file)), `${entry}: ${file}`).toBe(true);
    }
  });

  it("installs the core without a native build, a TypeScript loader or a bundler", () => {
    expect(p.coreNative).toEqual([]);
    for (const dev of ["tsx", "esbuild", "typescript", "better-sqlite3", "nats", "ajv", "ws", "@noble/curves"]) expect(p.coreInstalled).not.toContain(dev);
    // Ours is a small part of it: @bufbuild/protobuf and @noble/* are most of the rest.
    expect(treeBytes(join(p.dir, "node_modules/fleet-protocol"))).toBeLessThan(2 * MiB);
    // The goal of issue #13: a core install under 5 MB (decimal) unpacked.
    expect(p.coreInstallBytes).toBeLessThan(5_000_000);
    ran.install = `${(p.coreInstallBytes / MiB).toFixed(2)} MiB core, ${(p.coreInstallMs / 1000).toFixed(1)} s`;
  });

  it("(a) plain Node ESM: a hub from the package, two agents, a signed message with a receipt, verified", async () => {
    const r = await node([join(p.dir, "examples/node/hello.mjs")]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^receipt ACCEPTED for [0-9a-f-]{36}$/m);
    expect(r.stdout).toMatch(/got \{"task":42\} from alpha-\w+, verified=true$/m);
    ran.node = "ran";
  });

  it("runs the `fleet` command as compiled JavaScript, without tsx", async () => {
    expect(existsSync(join(p.dir, "node_modules/tsx"))).toBe(false);
    const r = await run(bin("fleet"), ["--help"], { cwd: p.dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/fleet COMMAND|Usage|usage/);
    // The whole demo: an embedded hub (better-sqlite3, the optional peer) and three agents.
    const home = join(p.dir, "fleet-home");
    const demo = await run(bin("fleet"), ["demo"], { cwd: p.dir, env: { FLEET_HOME: home, FLEET_HUB: "" } });
    expect(demo.code, demo.stderr).toBe(0);
    expect(demo.stdout).toMatch(/signature verified end to end/);
    expect(demo.stdout).toMatch(/demo done/);
    // The MCP SDK is an optional peer too: without it `fleet mcp` says what to install, in one line.
    expect(existsSync(join(p.dir, "node_modules/@modelcontextprotocol/sdk"))).toBe(false);
    const mcp = await run(bin("fleet"), ["mcp"], { cwd: p.dir, env: { FLEET_HOME: home } });
    expect(mcp.code).toBe(1);
    expect(mcp.stderr.trim().split("\n")).toHaveLength(1);
    expect(mcp.stderr).toMatch(/npm install @modelcontextprotocol\/sdk zod/);
  });

  it("(b) a strict TypeScript consumer (examples/typescript, plus every entry) type-checks with zero errors", async () => {
    // examples/typescript/tsconfig.json: strict, noUncheckedIndexedAccess, exactOptionalPropertyTypes,
    // skipLibCheck false, no DOM lib; entries.ts (tests/package/consumer) imports every entry.
    const r = await run(bin("tsc"), ["-p", "examples/typescript/tsconfig.json"], { cwd: p.dir });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
    ran["TS strict"] = "ran";
  });

  it("(b) the NATS entry adds no error of ours: the only ones are in the nats package's own declarations", async () => {
    const r = await run(bin("tsc"), ["-p", "consumer/tsconfig.nats.json"], { cwd: p.dir });
    const errors = (r.stdout + r.stderr).split("\n").filter((l) => /error TS\d+/.test(l));
    const ours = errors.filter((l) => !l.startsWith("node_modules/nats/"));
    expect(ours).toEqual([]);
    if (errors.length) console.log(`TS strict, fleet-protocol/nats: ${errors.length} errors, all in node_modules/nats/ (nats's own .d.ts under exactOptionalPropertyTypes / no DOM lib)`);
  });

  it("examples/typescript runs (compiled by the strict check above)", async () => {
    const r = await node([join(p.dir, "examples/typescript/out/typed-agent.js")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/worker answered \{"square":144\}/);
    expect(r.stdout).toMatch(/send after close refused: 805 DELIVERY_RECIPIENT_UNAVAILABLE/);
  });

  it("examples/request-response: a service found by capability answers a request", async () => {
    const r = await node([join(p.dir, "examples/request-response/service.mjs")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/capability time offered by clock/);
    expect(r.stdout).toMatch(/clock answered \{"now":"[^"]+","asked":\{"zone":"UTC"\}\}/);
  });

  it.skipIf(!hasNatsServer)(`examples/nats: two agents over a real nats-server${hasNatsServer ? "" : ` [skipped: ${natsSkipMessage}]`}`, async () => {
    const server = await startNatsServer();
    try {
      const r = await node([join(p.dir, "examples/nats/hello.mjs")], { NATS_URL: server.url });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/got \{"over":"nats"\} from alpha-\w+, verified=true/);
    } finally {
      await server.stop();
    }
  });

  it("a bundler keeps only what is imported (ErrorCode alone is a few KiB, not the runtime)", async () => {
    const r = await run(bin("esbuild"), ["consumer/error-code.mjs", "--bundle", "--minify", "--format=esm", "--platform=browser", "--log-level=warning"], { cwd: p.dir });
    expect(r.code, r.stderr).toBe(0);
    console.log(`esbuild, ErrorCode alone: ${(r.stdout.length / KiB).toFixed(1)} KiB minified`);
    expect(r.stdout.length).toBeLessThan(16 * KiB);
  });
});

describe.skipIf(chromiumMissing !== undefined)(`(c) browser bundles of the package in Chromium${chromiumMissing ? ` [skipped: ${chromiumMissing}]` : ""}`, () => {
  const bundles: Record<string, string> = {};

  beforeAll(async () => {
    // esbuild: no plugin, no config; #transport-tcp resolves to the browser stand-in.
    const esOut = join(p.dir, "out-esbuild");
    mkdirSync(esOut, { recursive: true });
    const es = await run(bin("esbuild"), ["examples/browser/main.js", "--bundle", "--format=esm", "--platform=browser", `--outdir=${esOut}`, "--log-level=warning"], { cwd: p.dir });
    if (es.code !== 0) throw new Error(`esbuild failed:\n${es.stderr}`);
    copyFileSync(join(p.dir, "examples/browser/index.html"), join(esOut, "index.html"));
    bundles.esbuild = esOut;
    // vite: index.html as the entry, default settings.
    const viteOut = join(p.dir, "out-vite");
    const vite = await run(bin("vite"), ["build", "--outDir", viteOut, "--emptyOutDir", "--logLevel", "warn"], { cwd: join(p.dir, "examples/browser") });
    if (vite.code !== 0) throw new Error(`vite build failed:\n${vite.stderr}\n${vite.stdout}`);
    bundles.vite = viteOut;
  }, 120_000);

  for (const bundler of ["esbuild", "vite"] as const) {
    it(`${bundler}: the page exchanges signed messages with a Node agent through the hub, each verified`, async () => {
      const out = bundles[bundler]!;
      const code = readFileSync(join(out, bundler === "esbuild" ? "main.js" : "index.html"), "utf8");
      expect(code).not.toMatch(/from\s*["']node:|import\(["']node:/);
      const server = startLines(process.execPath, [join(p.dir, "examples/browser/server.mjs")], { cwd: p.dir });
      const web = await startStaticServer({ dirs: { "/": out } });
      const browser = await launchChromium();
      try {
        const ws = (JSON.parse(await server.waitFor(/^\{"ws":/)) as { ws: string }).ws;
        const page = await browser.newPage();
        await page.goto(`${web.origin}/index.html?hub=${encodeURIComponent(ws)}&to=node-agent`);
        const result = await page.evaluate(() => (window as unknown as { fleetResult: Promise<unknown> }).fleetResult);
        expect(result).toEqual({ receipt: 1, from: "node-agent", value: { echo: { hello: "from the browser" } }, verified: true });
        // And the Node agent verified the page's signature.
        const seen = JSON.parse(await server.waitFor(/^\{"received":/)) as { verified: boolean; from: string };
        expect(seen.verified).toBe(true);
        expect(seen.from).toMatch(/^page-/);
        expect(page.errors).toEqual([]);
        ran[bundler] = "ran";
        ran.Chromium = "ran";
      } finally {
        await browser.close();
        await web.close();
        await server.stop();
      }
    }, 60_000);
  }
});

describe("(d) the same .mjs under Bun and Deno", () => {
  let runtimesDir: string | undefined;
  let why = "";

  beforeAll(async () => {
    // Installed on the side (not into the consumer project): each carries a ~100 MB binary.
    const dir = join(p.dir, "..", "runtimes");
    mkdirSync(dir, { recursive: true });
    await run("npm", ["init", "-y", "--loglevel=error"], { cwd: dir });
    const r = await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", ...Object.values(OTHER_RUNTIMES)], { cwd: dir, timeoutMs: 150_000 });
    if (r.code === 0) runtimesDir = dir;
    else why = `npm install ${Object.values(OTHER_RUNTIMES).join(" ")} failed: ${r.stderr.trim().split("\n").slice(-2).join(" ")}`;
  }, 180_000);

  const runtimes: [name: "bun" | "deno", args: (file: string) => string[]][] = [
    ["bun", (file) => [file]],
    ["deno", (file) => ["run", "--allow-all", file]],
  ];
  for (const [name, argsFor] of runtimes) {
    it(`${name}: examples/node/hello.mjs, unchanged, against a hub run by Node`, async (ctx) => {
      const exe = runtimesDir ? join(runtimesDir, "node_modules/.bin", name) : undefined;
      const version = exe ? await run(exe, ["--version"], { cwd: p.dir }) : undefined;
      if (!exe || version?.code !== 0) {
        ran[name] = `skipped (${why || `${name} --version failed: ${version?.stderr.trim()}`})`;
        console.log(`${name}: ${ran[name]}`);
        ctx.skip();
        return;
      }
      // The hub's store is better-sqlite3, a Node addon neither Bun nor Deno loads: the hub
      // runs in Node; both agents, their signing, verification and TCP, run in the other runtime.
      const hub = startLines(process.execPath, [join(p.dir, "consumer/hub.mjs")], { cwd: p.dir });
      try {
        const port = (JSON.parse(await hub.waitFor(/^\{"port":/)) as { port: number }).port;
        const r = await run(exe, argsFor(join(p.dir, "examples/node/hello.mjs")), { cwd: p.dir, env: { FLEET_HUB_PORT: String(port), NO_COLOR: "1" }, timeoutMs: 60_000 });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^receipt ACCEPTED for /m);
        expect(r.stdout).toMatch(/verified=true$/m);
        ran[name] = `ran (${version.stdout.trim().split("\n")[0]})`;
      } finally {
        await hub.stop();
      }
    }, 90_000);
  }
});
