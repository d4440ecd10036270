// A field's tag as varint bytes. Imports nothing, so tools/generate/fast-codec.ts can use it
// even before generated/ exists.
/** The varint bytes of (field number << 3 | wire type). */
export function tagBytes(no: number, wireType: number): number[] {
  const out: number[] = [];
  let v = no * 8 + wireType;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}
