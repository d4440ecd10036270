// "fleet-protocol/node": Node-only pieces: identities in key files (0600), and the explicit
// node:crypto registration for hosts without process.getBuiltinModule.
export { FileKeystore, defaultKeystoreDir } from "./keystore.js";
export { registerNodeCrypto } from "../crypto/node-crypto.js";
