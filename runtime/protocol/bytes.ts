// Small byte helpers shared by the state machines (browser-safe: no node: imports).
const utf8 = new TextEncoder();

/** Lexicographic order of raw bytes; the deterministic order every spec in this folder uses. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0;
}

/** Orders strings by their UTF-8 bytes, so every implementation sorts alike. */
export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  return compareBytes(utf8.encode(a), utf8.encode(b));
}
