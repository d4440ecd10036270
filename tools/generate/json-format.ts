// Stable, readable JSON: two-space indentation, but any array or object that fits in
// `width` characters stays on one line. Deterministic for the same input.
export function formatJson(value: unknown, width = 100): string {
  return render(value, "", width) + "\n";
}

function render(value: unknown, indent: string, width: number): string {
  const flat = JSON.stringify(value);
  if (flat === undefined) return "null";
  if (value === null || typeof value !== "object" || flat.length + indent.length <= width) return spaced(value) ?? flat;
  const inner = indent + "  ";
  if (Array.isArray(value)) {
    return `[\n${value.map((v) => inner + render(v, inner, width)).join(",\n")}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${render(v, inner, width)}`).join(",\n")}\n${indent}}`;
}

/** One-line form with a space after ":" and "," for objects and arrays. */
function spaced(value: unknown): string | undefined {
  if (value === null || typeof value !== "object") return undefined;
  if (Array.isArray(value)) return `[${value.map((v) => spaced(v) ?? JSON.stringify(v)).join(", ")}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return "{}";
  return `{ ${entries.map(([k, v]) => `${JSON.stringify(k)}: ${spaced(v) ?? JSON.stringify(v)}`).join(", ")} }`;
}
