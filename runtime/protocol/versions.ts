// Protocol version selection: "major.minor" compared numerically ("3.10" > "3.9").
import { ErrorCode, FleetError } from "../errors.js";

export const PROTOCOL_VERSION = "3.0";
export const SUPPORTED_VERSIONS: readonly string[] = [PROTOCOL_VERSION];

const VERSION = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$/;

/** [major, minor], or undefined for text that is not "major.minor". */
export function parseVersion(text: string): [number, number] | undefined {
  const m = VERSION.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (!pa || !pb) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `not a "major.minor" version: ${JSON.stringify(pa ? b : a)}`);
  return pa[0] - pb[0] || pa[1] - pb[1];
}

/** The highest version both lists contain (malformed entries ignored), or undefined. */
export function highestCommonVersion(ours: readonly string[], theirs: readonly string[]): string | undefined {
  const mine = new Set(ours.filter((v) => parseVersion(v)));
  let best: string | undefined;
  for (const v of theirs) {
    if (!mine.has(v)) continue;
    if (best === undefined || compareVersions(v, best) > 0) best = v;
  }
  return best;
}
