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
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Below the surrogates, UTF-16 order is code point order is UTF-8 byte order.
    if (x < 0xd800 && y < 0xd800) return x - y;
    return compareBytes(utf8.encode(a.slice(i)), utf8.encode(b.slice(i)));
  }
  return a.length - b.length;
}
