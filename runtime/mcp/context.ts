// What the MCP server acts with: one fleet identity's open connection and its inbox.
import type { HubConnection } from "../client/connection.js";
import type { Identity } from "../crypto/index.js";
import type { NatsFleetConnection } from "../nats/connection.js";
import type { Inbox } from "../agent/inbox.js";

export interface FleetMcpContext {
  /** The identity's connection (a hub; NATS works for everything but history and bottle status). */
  conn: HubConnection | NatsFleetConnection;
  /** The identity (bottle letters are signed by it). */
  identity: Identity;
  /** Messages for this identity, read by the inbox tool and resource. */
  inbox: Inbox;
}
