// A real nats-server under a generated authorization (spec/nats-auth.md), as an operator runs
// one: the authorization file 0600 beside a server config that enables JetStream itself (a
// reload keeps on only what the file says) and includes it; the operator then provisions the
// streams and every agent's durable consumers, which agents may not create.
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import type { Identity } from "../../../runtime/crypto/index.js";
import { provisionAgents } from "../../../runtime/nats/jetstream.js";
import { identityAuthenticator } from "../../../runtime/nats/nkey.js";
import { replyPrefix } from "../../../runtime/nats/subjects.js";
import { startNatsServer, type NatsServerHandle } from "../../support/nats-server.js";

/** Writes the authorization text 0600 as `fleet nats auth` does; returns the file. */
export function writeAuthorizationFile(dir: string, text: string): string {
  const file = join(dir, "fleet-auth.conf");
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

/** Starts nats-server with JetStream in dir and the authorization in dir/fleet-auth.conf, provisioned for agents by operator. */
export async function startAuthorizedServer(dir: string, operator: Identity, agents: readonly { agent: string }[]): Promise<NatsServerHandle> {
  const config = join(dir, "server.conf");
  writeFileSync(config, `jetstream { store_dir: ${JSON.stringify(join(dir, "js"))} }\ninclude "fleet-auth.conf"\n`);
  const server = await startNatsServer({ config });
  const admin = await rawLogin(server.url, operator);
  try {
    await provisionAgents(await admin.jetstreamManager(), agents.map((a) => a.agent));
  } finally {
    await admin.close();
  }
  return server;
}

/** A bare nats.js connection logged in as id with its nkey (what a hostile agent could do by hand). */
export async function rawLogin(url: string, id: Identity): Promise<NatsConnection> {
  return connect({ servers: url, authenticator: identityAuthenticator(() => id), inboxPrefix: await replyPrefix(id.agent) });
}

/** Permission violations nats-server reported on a connection, as "publish SUBJECT" / "subscription SUBJECT". */
export function violations(nc: NatsConnection): string[] {
  const seen: string[] = [];
  void (async () => {
    for await (const s of nc.status()) {
      const ctx = (s as { permissionContext?: { operation: string; subject: string } }).permissionContext;
      if (ctx) seen.push(`${ctx.operation} ${ctx.subject}`);
    }
  })();
  return seen;
}
