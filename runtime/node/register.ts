// Explicit node:crypto registration for hosts without process.getBuiltinModule (Node < 20.16).
// Importing this module is harmless elsewhere; the core never imports it itself.
import * as nodeCrypto from "node:crypto";
import { registerNodeCrypto } from "../crypto/node-crypto.js";

registerNodeCrypto(nodeCrypto);
