// Gate "error codes agree with errors.proto": spec/errors.md's table is what errors.proto
// generates, every error code spec/*.md mentions exists, and a code written beside a code name
// (`HANDSHAKE_AUTH_FAILED` (104), 104 `HANDSHAKE_AUTH_FAILED`, ERROR_CODE_X) is that name's.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ERRORS_DOC, ERRORS_PROTO, errorsDocWithTable, parseErrorCodes, TABLE_END } from "../generate/errors-doc.js";

// A three-digit number is read as an error code unless a unit or count follows it.
const NOT_A_CODE_AFTER = /^\s*(?:s\b|ms\b|bytes?\b|B\b|KiB|MiB|GiB|characters?|code points?|UTF-16|hops?\b|envelopes?|entries|statements|seconds?|%|x\b|-bit)/;

/** One line per problem in root's spec/*.md (empty when every code agrees with errors.proto). */
export function checkErrorProse(root: string): string[] {
  const codes = parseErrorCodes(readFileSync(join(root, ERRORS_PROTO), "utf8"));
  const byNumber = new Map(codes.map((c) => [c.number, c.name]));
  const byName = new Map(codes.map((c) => [c.name, c.number]));
  const out: string[] = [];
  if (!existsSync(join(root, ERRORS_DOC))) return [`${ERRORS_DOC} is missing`];
  const doc = errorsDocWithTable(root);
  if (doc.next === undefined) out.push(`${ERRORS_DOC}: the error-codes table markers are missing`);
  else if (doc.next !== doc.current) out.push(`${ERRORS_DOC}: the error-code table is stale (run npm run generate)`);
  const dir = join(root, "spec");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".md")).sort()) {
    let text = readFileSync(join(dir, file), "utf8");
    if (`spec/${file}` === ERRORS_DOC) text = text.slice(text.indexOf(TABLE_END)); // the table itself is generated
    text.split("\n").forEach((line, i) => {
      const where = `spec/${file}:${i + 1}`;
      for (const m of line.matchAll(/(?<![\w.:/#-])([1-9]\d\d)(?!\w|\.\d)/g)) {
        const n = Number(m[1]);
        if (n % 100 === 0 || n % 100 > 19) continue; // not in a code's range (x01..x19)
        if (NOT_A_CODE_AFTER.test(line.slice(m.index! + m[0].length))) continue;
        if (!byNumber.has(n)) out.push(`${where}: ${n} is not an error code in errors.proto`);
      }
      const pairs = [
        ...[...line.matchAll(/`?(?:ERROR_CODE_)?([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`?\s*\((\d{3})\)/g)].map((m) => [m[1], m[2]]),
        ...[...line.matchAll(/\b(\d{3})\s*\(?`(?:ERROR_CODE_)?([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`/g)].map((m) => [m[2], m[1]]),
      ];
      for (const [name, num] of pairs) {
        const want = byName.get(name);
        if (want !== undefined && want !== Number(num)) out.push(`${where}: ${name} is ${want} in errors.proto, not ${num}`);
      }
      for (const m of line.matchAll(/ERROR_CODE_([A-Z0-9_]+)/g)) if (!byName.has(m[1]) && m[1] !== "UNSPECIFIED") out.push(`${where}: ERROR_CODE_${m[1]} is not in errors.proto`);
    });
  }
  return out;
}
