// JSON pointers (RFC 6901) to fields, built from JSON names, so an error names the
// field exactly as it appears in the JSON form.
export function childPointer(parent: string, key: string | number): string {
  if (typeof key === "number") return `${parent}/${key}`;
  const token = key.includes("~") || key.includes("/") ? key.replace(/~/g, "~0").replace(/\//g, "~1") : key;
  return `${parent}/${token}`;
}
