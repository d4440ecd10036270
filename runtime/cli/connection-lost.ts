// Long-running commands that act as one identity (fleet mcp, fleet serve) end when their hub
// connection ends (the hub stopped, or a newer connection for the same agent superseded it),
// with the hub's reason, rather than serve on a dead connection: a supervisor or the MCP
// client starts them again.
import { ErrorCode, FleetError } from "../errors.js";

/** Rejects when conn closes (never, for connections that cannot report it). */
export function connectionLost(conn: unknown): Promise<never> {
  const c = conn as { onClose?: (h: (e?: FleetError) => void) => unknown; agent?: string };
  return new Promise<never>((_, reject) => {
    c.onClose?.((e) => reject(new FleetError(e?.code ?? ErrorCode.DELIVERY_RECIPIENT_UNAVAILABLE, `the hub connection of ${c.agent ?? "this agent"} closed${e ? `: ${e.message}` : ""}`)));
  });
}
