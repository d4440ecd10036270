// Stands in for runtime/transport/tcp.ts outside Node: package.json "imports" resolves
// "#transport-tcp" here for every condition but "node" (and tools/build-browser.ts does for the
// sources). Browsers have no raw sockets, so asking for TCP there is a typed error that says
// what to do instead, never a failed import of node:net.
import { ErrorCode, FleetError } from "../errors.js";

function unavailable(): never {
  throw new FleetError(ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, "TCP is not available in browsers: connect with a ws:// url (the hub's --ws-port)");
}

export async function connectTcp(): Promise<never> {
  unavailable();
}

export async function listenTcp(): Promise<never> {
  unavailable();
}

export function frameConnectionFromSocket(): never {
  unavailable();
}
