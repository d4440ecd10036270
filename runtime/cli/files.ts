// Files the user names on the command line: a missing or unreadable one is a CLI failure
// that says so ("no such file"), not a protocol error.
import { accessSync, constants, statSync } from "node:fs";
import { CliError } from "./cli-error.js";

export function fileError(path: string, e: unknown): CliError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return new CliError(`no such file: ${path}`);
  if (code === "EISDIR") return new CliError(`${path} is a directory, not a file`);
  if (code === "EACCES" || code === "EPERM") return new CliError(`cannot read ${path}: permission denied`);
  return new CliError(`cannot read ${path}: ${code ?? String(e)}`);
}

/** Throws the CliError for a path that is not a readable regular file. */
export function assertReadable(path: string): void {
  try {
    if (statSync(path).isDirectory()) throw Object.assign(new Error("directory"), { code: "EISDIR" });
    accessSync(path, constants.R_OK);
  } catch (e) {
    throw fileError(path, e);
  }
}
