// Access to node:crypto without a static import, so the core still loads in browsers.
// Node 20.16+ exposes process.getBuiltinModule; older hosts can register the module
// explicitly (runtime/node/register.ts does so).
type NodeCrypto = typeof import("node:crypto");

let nodeCrypto: NodeCrypto | undefined = (() => {
  try {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    return proc?.getBuiltinModule?.("node:crypto") as NodeCrypto | undefined;
  } catch {
    return undefined;
  }
})();
let disabled = false;

/** node:crypto when running on Node (and not disabled), otherwise undefined. */
export function getNodeCrypto(): NodeCrypto | undefined {
  return disabled ? undefined : nodeCrypto;
}

/** Supplies node:crypto explicitly (for hosts without process.getBuiltinModule). */
export function registerNodeCrypto(mod: NodeCrypto): void {
  nodeCrypto = mod;
}

/** Test hook: pretend node:crypto is absent, to exercise the browser/noble paths on Node. */
export function setNodeCryptoDisabled(value: boolean): void {
  disabled = value;
}
