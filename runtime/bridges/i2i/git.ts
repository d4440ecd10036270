// Git plumbing the I2I bridge uses on its bare repository (execFile, never a shell).
import { execFile } from "node:child_process";
import { ErrorCode, FleetError } from "../../errors.js";

export function git(dir: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile("git", args, { cwd: dir, env: { ...process.env, ...opts.env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new FleetError(ErrorCode.INTERNAL_ERROR, `git ${args[0]}: ${String(stderr || err.message).trim().slice(0, 300)}`));
      else resolve(stdout);
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export interface CommitInfo {
  id: string;
  authorName: string;
  authorEmail: string;
  message: string;
}

/** A commit's id, author and its message exactly as stored (git cat-file, after the header). */
export async function readCommit(dir: string, id: string): Promise<CommitInfo> {
  const out = await git(dir, ["log", "-1", "--format=%H%x00%an%x00%ae", id]);
  const [h, an, ae] = out.trim().split("\u0000");
  const raw = await git(dir, ["cat-file", "commit", h!]);
  const at = raw.indexOf("\n\n");
  return { id: h!, authorName: an!, authorEmail: ae!, message: at < 0 ? "" : raw.slice(at + 2) };
}
