// JSON pointers (RFC 6901) to fields, built from JSON names, so an error names the
// field exactly as it appears in the JSON form.
export function childPointer(parent: string, key: string | number): string {
  const token = typeof key === "number" ? String(key) : key.replace(/~/g, "~0").replace(/\//g, "~1");
  return `${parent}/${token}`;
}
