// Starts history-worker.ts in a worker thread when the runtime runs from TypeScript sources
// (tsx), as bin/fleet.js does for the main thread.
import { register } from "tsx/esm/api";

register();
await import("./history-worker.ts");
