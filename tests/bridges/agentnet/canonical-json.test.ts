// agentnet signs Python's canonical JSON; the bridge must reproduce it byte for byte from
// the JSON text Python put on the wire. Checked against Debian's python3 itself.
import { execFileSync } from "node:child_process";
import { expect, it } from "vitest";
import { parseJsonLossless, pyCanonicalJson, pyFloatRepr } from "../../../runtime/bridges/agentnet/canonical-json.js";
import { PYTHON } from "../support/python-driver.js";

const SCRIPT = `
import json, sys
values = [
  {"b": 1, "a": [1.0, 2.5, -0.0, 1e16, 1e-5, 0.0001, 123456789012345678, 1.7976931348623157e308, 5e-324, 0.1, 100.0, 1e22]},
  {"text": "ü☃\\u0001\\x7f\\"\\\\/\\n\\t😀", "\\u00e9": True, "z": None, "nested": {"y": [], "x": {}}},
  [3.14159, -2.0, 10000000000000000.0, 123e-20, 2**70],
  "plain",
]
for v in values:
    print(json.dumps({"wire": json.dumps(v), "canonical": json.dumps(v, sort_keys=True, separators=(",", ":"))}))
`;

it("reproduces json.dumps(sort_keys=True, separators=(',', ':')) from the wire text Python wrote", () => {
  const out = execFileSync(PYTHON, ["-c", SCRIPT], { encoding: "utf8" });
  const cases = out.trim().split("\n").map((l) => JSON.parse(l) as { wire: string; canonical: string });
  expect(cases.length).toBe(4);
  for (const c of cases) expect(pyCanonicalJson(parseJsonLossless(c.wire))).toBe(c.canonical);
});

it("writes Python's float repr", () => {
  expect([1, 0.5, 1e16, 1e-5, 123.456, -0, 1e22].map(pyFloatRepr)).toEqual(["1.0", "0.5", "1e+16", "1e-05", "123.456", "-0.0", "1e+22"]);
});

it("refuses malformed JSON and nesting over 64 levels", () => {
  expect(() => parseJsonLossless('{"a":}')).toThrow(expect.objectContaining({ code: 701 }));
  expect(() => parseJsonLossless("[".repeat(70) + "]".repeat(70))).toThrow(expect.objectContaining({ code: 701 }));
});
