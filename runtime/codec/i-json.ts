// I-JSON (RFC 7493 §2.3): no object may hold two members with the same name. JSON.parse keeps
// the last of them silently, other parsers the first or refuse: signed JSON must have one
// reading, so a duplicate is refused (701, pointer to the second member). Names compare after
// unescaping ("a" and "\u0061" are the same name). Runs on text JSON.parse already accepted.
import { ErrorCode, FleetError } from "../errors.js";
import { childPointer } from "./pointer.js";

interface Level {
  /** Member names seen so far (objects), or null (arrays). */
  names: Set<string> | null;
  pointer: string;
  /** Objects: the next string token is a member name. */
  expectName: boolean;
  /** The current member name (objects) or index (arrays). */
  at: string | number;
}

/** The JSON pointer of the first duplicate member in valid JSON text, or undefined. */
export function firstDuplicateMember(text: string): string | undefined {
  const stack: Level[] = [];
  const here = () => {
    const top = stack[stack.length - 1];
    return top ? childPointer(top.pointer, top.at) : "";
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.names && top.expectName) {
        const name = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.names.has(name)) return childPointer(top.pointer, name);
        top.names.add(name);
        top.at = name;
        top.expectName = false;
      }
      i = j;
    } else if (c === 0x7b /* { */) {
      stack.push({ names: new Set(), pointer: here(), expectName: true, at: "" });
    } else if (c === 0x5b /* [ */) {
      stack.push({ names: null, pointer: here(), expectName: false, at: 0 });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.names) top.expectName = true;
      else if (top) top.at = (top.at as number) + 1;
    }
  }
  return undefined;
}

/** 701 unless text (already valid JSON) is I-JSON: no duplicate member names. */
export function assertNoDuplicateMembers(text: string): void {
  const pointer = firstDuplicateMember(text);
  if (pointer !== undefined) throw new FleetError(ErrorCode.WIRE_MALFORMED, `duplicate member ${JSON.stringify(pointer)}: JSON must be I-JSON (RFC 7493), one member per name`, { pointer });
}
