// One name from the core: with "sideEffects" and ESM, a bundler keeps only what it needs.
import { ErrorCode } from "fleet-protocol";

console.log(ErrorCode.WIRE_TRUNCATED);
