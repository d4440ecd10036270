// A consumer project made from the packed tarball, the way a user gets the package: `npm pack`
// (which builds dist/ through "prepack"), then `npm install <tarball>` into a fresh temporary
// project that has none of our dev tools. Installs read the npm cache first (--prefer-offline)
// and fall back to the registry.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const NPM_FLAGS = ["--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"];

/**
 * The environment of every command run here: ours, less what npm put there for the script
 * that runs these tests (`npm test`): its package and lifecycle, and its local prefix (the
 * repository), so an npm started in the consumer project works on that project alone.
 */
export function consumerEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_package_|npm_lifecycle_|npm_config_local_prefix$|INIT_CWD$)/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (bounded by timeoutMs); never throws for a non-zero exit. */
export function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, env: consumerEnv(opts.env), timeout: opts.timeoutMs ?? 120_000, maxBuffer: 32 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + (error && code === null ? `\n${error.message}` : "") });
    });
  });
}

async function mustRun(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}:\n${r.stderr.slice(-4000)}\n${r.stdout.slice(-2000)}`);
  return r;
}

/** Bytes of every regular file under dir (what "unpacked size" means), following no links. */
export function treeBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    if (st.isDirectory()) total += treeBytes(path);
    else if (st.isFile()) total += st.size;
  }
  return total;
}

/** Every file under dir whose name matches, as paths relative to dir. */
export function findFiles(dir: string, match: RegExp, prefix = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    if (st.isDirectory()) out.push(...findFiles(path, match, `${prefix}${name}/`));
    else if (match.test(name)) out.push(`${prefix}${name}`);
  }
  return out;
}

export interface PackedProject {
  /** The temporary consumer project (package.json, node_modules, examples/). */
  dir: string;
  tarball: string;
  /** npm pack's own figures. */
  tarballBytes: number;
  packageUnpackedBytes: number;
  files: string[];
  /** `npm install <tarball>` alone into the empty project: wall time and node_modules bytes. */
  coreInstallMs: number;
  coreInstallBytes: number;
  /** Top-level packages the core install brought. */
  coreInstalled: string[];
  /** Native addons (.node) and node-gyp build dirs in the core install. */
  coreNative: string[];
  /** `fleet --version` run in the core-only install, before any optional peer is added. */
  coreOnlyCli: { code: number | null; stdout: string; stderr: string };
  cleanup(): void;
}

function devVersion(name: string): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
  const v = pkg.devDependencies[name];
  if (!v) throw new Error(`${name} is not a devDependency of the repository`);
  return `${name}@${v}`;
}

/**
 * Packs the repository and installs the tarball into a fresh project; then adds the
 * consumer's own tools (typescript, @types/node, esbuild, vite, at the versions this
 * repository pins) and the optional peers (nats and ws from the registry; better-sqlite3 linked
 * from this repository's install, which `npm ci` already compiled once).
 */
export async function packAndInstall(): Promise<PackedProject> {
  const base = mkdtempSync(join(tmpdir(), "fleet-package-"));
  try {
    const packed = await mustRun("npm", ["pack", "--json", "--pack-destination", base, "--loglevel=error"], { cwd: ROOT, timeoutMs: 240_000 });
    const info = (JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as { filename: string; size: number; unpackedSize: number; files: { path: string }[] }[])[0]!;
    const tarball = join(base, info.filename);

    const dir = join(base, "consumer");
    mkdirSync(dir);
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "fleet-consumer", private: true, type: "module" }, null, 2));
    const started = performance.now();
    await mustRun("npm", ["install", ...NPM_FLAGS, tarball], { cwd: dir });
    const coreInstallMs = performance.now() - started;
    const nm = join(dir, "node_modules");
    const coreInstallBytes = treeBytes(nm);
    const coreInstalled = readdirSync(nm)
      .filter((n) => !n.startsWith("."))
      .flatMap((n) => (n.startsWith("@") ? readdirSync(join(nm, n)).map((s) => `${n}/${s}`) : [n]));
    const coreNative = findFiles(nm, /\.node$|^binding\.gyp$/);
    // The CLI in a core-only install (no better-sqlite3, no ws): what a user sees.
    const coreOnlyCli = await run(process.execPath, [join(nm, "fleet-protocol/bin/fleet.js"), "--version"], { cwd: dir });

    await mustRun("npm", ["install", "-D", ...NPM_FLAGS, ...["typescript", "@types/node", "esbuild", "vite", "nats", "ws"].map(devVersion)], { cwd: dir });
    // After the last npm install (npm prunes what its lockfile does not know).
    symlinkSync(join(ROOT, "node_modules/better-sqlite3"), join(nm, "better-sqlite3"), "dir");
    cpSync(join(ROOT, "examples"), join(dir, "examples"), { recursive: true });
    cpSync(join(ROOT, "tests/package/consumer"), join(dir, "consumer"), { recursive: true });
    // Every entry, checked in the same strict compilation as the TypeScript example.
    cpSync(join(ROOT, "tests/package/consumer/entries.ts"), join(dir, "examples/typescript/entries.ts"));

    return {
      dir,
      tarball,
      tarballBytes: info.size,
      packageUnpackedBytes: info.unpackedSize,
      files: info.files.map((f) => f.path),
      coreInstallMs,
      coreInstallBytes,
      coreInstalled,
      coreNative,
      coreOnlyCli,
      cleanup: () => rmSync(base, { recursive: true, force: true }),
    };
  } catch (e) {
    rmSync(base, { recursive: true, force: true });
    throw e;
  }
}

export interface LineProcess {
  child: ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  /** Resolves with the first stdout line matching, rejects after timeoutMs or on exit. */
  waitFor(match: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** A long-running child (a hub, the browser example's server) whose stdout is read line by line. */
export function startLines(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): LineProcess {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: consumerEnv(opts.env), stdio: ["pipe", "pipe", "pipe"] });
  const lines: string[] = [];
  let stderr = "";
  let pending = "";
  const waiters = new Set<() => void>();
  child.stdout!.on("data", (chunk: Buffer) => {
    pending += chunk.toString("utf8");
    const parts = pending.split("\n");
    pending = parts.pop() ?? "";
    lines.push(...parts);
    for (const w of waiters) w();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-8000);
  });
  child.on("exit", () => {
    for (const w of waiters) w();
  });
  return {
    child,
    lines,
    waitFor(match, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = lines.find((l) => match.test(l));
          if (line !== undefined) done(() => resolve(line));
          else if (child.exitCode !== null || child.signalCode !== null) done(() => reject(new Error(`${cmd} ${args.join(" ")} exited (${child.exitCode ?? child.signalCode}) before printing ${match}:\n${stderr}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`no ${match} from ${cmd} ${args.join(" ")} within ${timeoutMs} ms:\n${stderr}`))), timeoutMs);
        const done = (f: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          f();
        };
        waiters.add(check);
        check();
      });
    },
    stop() {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise((resolve) => {
        const force = setTimeout(() => child.kill("SIGKILL"), 5_000);
        child.once("exit", () => {
          clearTimeout(force);
          resolve();
        });
        child.stdin!.end();
        child.kill("SIGTERM");
      });
    },
  };
}
