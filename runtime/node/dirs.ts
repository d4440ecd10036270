// Directories and existence checks that report what went wrong instead of hiding it:
// makeDirs creates a path one level at a time (Node's recursive mkdir can loop forever on
// file systems like /proc that refuse a mkdir with ENOENT), and pathExists says "absent" only
// for ENOENT, so a permission problem (EACCES) is reported as such, never as "not there".
import { mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ErrorCode, FleetError } from "../errors.js";

function why(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "EACCES" || code === "EPERM") return `${code} (permission denied)`;
  return code ?? String(e);
}

/** True when path exists, false only when it does not (ENOENT, ENOTDIR); 808 naming the errno otherwise. */
export function pathExists(path: string, what = path): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOTDIR") return false;
    throw new FleetError(ErrorCode.DELIVERY_STORE_FAILED, `cannot read ${what}: ${why(e)}`, { cause: e });
  }
}

/** Creates dir and any missing parents (each with mode), one level at a time; 808 naming the errno when it cannot. */
export function makeDirs(dir: string, mode = 0o700, what = dir): void {
  const full = resolve(dir);
  const missing: string[] = [];
  for (let p = full; ; p = dirname(p)) {
    let st;
    try {
      st = statSync(p, { throwIfNoEntry: false });
    } catch (e) {
      throw new FleetError(ErrorCode.DELIVERY_STORE_FAILED, `cannot create ${what}: ${p}: ${why(e)}`, { cause: e });
    }
    if (st) {
      if (!st.isDirectory()) throw new FleetError(ErrorCode.DELIVERY_STORE_FAILED, `cannot create ${what}: ${p} is not a directory`);
      break;
    }
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of missing) {
    try {
      mkdirSync(p, { mode });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw new FleetError(ErrorCode.DELIVERY_STORE_FAILED, `cannot create ${what}: ${p}: ${why(e)}`, { cause: e });
    }
  }
}
