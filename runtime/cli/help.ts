// `fleet --help` and `fleet COMMAND --help`: every option of every command with its default
// and one example (tests/cli/help.test.ts checks that none is missing).
import type { Command } from "./command.js";

export interface CommandHelp {
  /** Option name (without --) -> "VALUE  what it does (default: ...)". */
  options: Record<string, string>;
  example: string;
}

export const HELP: Record<string, CommandHelp> = {
  "fleet demo": { options: {}, example: "fleet demo" },
  "fleet keygen": {
    options: { "agent-id": "NAME   the agent's name (required; no default)", force: "       replace an existing key for NAME (default: off, an existing key is kept)" },
    example: "fleet keygen --agent-id alpha",
  },
  "fleet keys": { options: {}, example: "fleet keys rotate --agent-id alpha" },
  "fleet keys rotate": { options: { "agent-id": "NAME   the identity whose key is replaced (required; no default)" }, example: "fleet keys rotate --agent-id alpha" },
  "fleet hub": {
    options: {
      port: "N          TCP port; 0 = any free port, then config.json is not changed (default: 7420)",
      "ws-port": "N       also listen for WebSocket clients (browsers) on this port (default: off)",
      "ws-origin": "LIST  page origins allowed over WebSocket besides loopback pages, comma-separated, * = any (default: loopback only)",
      host: "ADDR       address to listen on (default: 127.0.0.1)",
      verify: "none|all re-verify forwarded Ed25519 signatures at the hub (default: none; recipients always verify)",
      rate: "N          messages per second per sender, 0 = unlimited (default: 10000)",
      burst: "N         token-bucket burst per sender (default: 20000)",
      "max-frame": "B   largest frame in bytes (default: 1114112)",
      "idle-ms": "MS    close connections silent this long (default: 60000)",
      "max-queue": "B   bytes queued per connection before busy receipts (default: 8388608)",
      "require-token": "admit only agents holding a token from `fleet token issue` (default: off, open admission)",
      "capability-policy": "FILE  granted capabilities and their authorities, from `fleet capability policy` (default: none, every capability open)",
      "max-handshake-frame": "B  largest frame before the handshake completes (default: 16384)",
      "tls-cert": "PEM        serve TLS on the TCP listener (and wss:// on --ws-port) with this certificate (default: none, plain TCP on loopback)",
      "tls-key": "PEM         the private key of --tls-cert (default: none; required with --tls-cert)",
      insecure: "           allow a non-loopback --host without TLS (default: off, refused)",
      "max-pending": "N        connections still handshaking at once (default: 1024)",
      "inbox-quota": "B        stored bytes per recipient (default: 67108864)",
      "inbox-total": "B        stored bytes for all recipients (default: 536870912)",
      "unknown-quota": "B      stored bytes for names never admitted (default: 1048576)",
      "prune-idle-ms": "MS     forget openly admitted names that never did anything after this long (default: 86400000)",
      "keep-port": "N          also serve keep-protocol clients on this port; 0 = any free port (default: off)",
      "swarm-port": "N         also serve agent-swarm over HTTPS on this port (default: off; needs --swarm-cert and --swarm-key)",
      "swarm-cert": "PEM       TLS certificate for --swarm-port (default: none)",
      "swarm-key": "PEM        TLS key for --swarm-port (default: none)",
      swarm: "NAME[=GROUP],...     swarms served, each mapped to a group (default: fleet)",
      "history-max": "N      messages kept in the hub's history, 0 = none (default: 100000)",
      "history-days": "D     days a message stays in the history (default: 7)",
    },
    example: "fleet hub --port 7420",
  },
  "fleet ping": { options: { count: "N    round trips, 1 to 100 (default: 1)" }, example: "fleet ping hub --count 3" },
  "fleet send": {
    options: {
      payload: "JSON  send this JSON value instead of TEXT (default: none, TEXT is sent)",
      type: "T        event|request|command|query|status (default: event)",
      "no-ack": "      do not ask the hub for a receipt (default: off, a receipt is awaited)",
      thread: "ID        the thread this message belongs to (default: none)",
      "in-reply-to": "ID   the message this one answers (default: none)",
    },
    example: 'fleet send beta "hello beta"',
  },
  "fleet broadcast": {
    options: {
      payload: "JSON  send this JSON value instead of TEXT (default: none, TEXT is sent)",
      type: "T        event|request|command|query|status (default: event)",
      "no-ack": "      do not ask for a receipt (default: off, a receipt is awaited)",
      thread: "ID        the thread this message belongs to (default: none)",
      "in-reply-to": "ID   the message this one answers (default: none)",
    },
    example: 'fleet broadcast "all hands"',
  },
  "fleet inbox": {
    options: {
      wait: "MS          after the stored messages, wait this long for more (default: 300)",
      follow: "          keep printing new messages until Ctrl-C; with --json one JSON object per line (default: off)",
      capability: "NAME  offer this capability, so `registry query --capability` finds this agent (default: none; repeatable)",
      grant: "GRANT|FILE  a grant from `fleet capability grant` for a granted capability, offered with it (default: none; repeatable)",
      group: "NAME       join this group, so group:NAME messages reach it (default: none; repeatable)",
    },
    example: "fleet inbox --agent beta --capability summarize --group crew --follow",
  },
  "fleet registry": { options: {}, example: "fleet registry list" },
  "fleet registry list": { options: { online: "  only agents online now (default: off, every known agent)" }, example: "fleet registry list --online" },
  "fleet registry query": {
    options: { capability: "NAME  the capability to look for (required; no default)", online: "  only agents online now (default: off)" },
    example: "fleet registry query --capability summarize",
  },
  "fleet bottle": { options: {}, example: "fleet bottle status 7f0c..." },
  "fleet bottle send": {
    options: {
      payload: "JSON  the letter's content (required; no default)",
      when: "COND     always, agent_online:X, capability:X, not_before:ISO, A&B, A|B (required; no default)",
      ttl: "SECONDS   how long the hub keeps it (default: 86400)",
    },
    example: "fleet bottle send beta --payload '{\"map\":\"x\"}' --when agent_online:beta",
  },
  "fleet bottle status": { options: {}, example: "fleet bottle status 7f0c..." },
  "fleet sign": { options: { out: "SIGFILE  where the signature goes (default: FILE.sig)" }, example: "fleet sign notes.txt" },
  "fleet verify": { options: {}, example: "fleet verify notes.txt notes.txt.sig" },
  "fleet status": { options: {}, example: "fleet status" },
  "fleet bridge": { options: {}, example: "fleet bridge agentnet --nats nats://127.0.0.1:4222" },
  "fleet bridge agentnet": { options: {}, example: "fleet bridge agentnet --nats nats://127.0.0.1:4222" },
  "fleet bridge i2i": {
    options: {
      repo: "PATH      the git repository the agents share (required; no default)",
      agents: "NAME,...  the agents bridged (required; no default)",
      branch: "NAME    the branch used (default: main)",
    },
    example: "fleet bridge i2i --repo ../shared --agents alpha,beta",
  },
  "fleet bridge swarm-invite": {
    options: {
      swarm: "NAME        the swarm invited to (required; no default)",
      endpoint: "URL   the hub's agent-swarm endpoint, https://HOST:PORT (required; no default)",
      out: "FILE        where the invite goes, 0600 (required; no default)",
      uses: "N         admissions it allows, 0 = unlimited (default: 0)",
      ttl: "SECONDS     lifetime (default: 86400)",
    },
    example: "fleet bridge swarm-invite --swarm fleet --endpoint https://127.0.0.1:7443 --out invite.json",
  },
  "fleet threads": { options: { limit: "N    threads listed (default: 50)" }, example: "fleet threads --agent beta" },
  "fleet thread": { options: { limit: "N    messages shown (default: 50)", before: "SEQ  only messages before this sequence number (default: the newest)" }, example: "fleet thread 7f0c... --agent beta" },
  "fleet mcp": {
    options: {
      http: "PORT          serve MCP over HTTP on this port, 0 = any free port (default: stdio)",
      capability: "NAME    offer this capability (default: none; repeatable)",
      grant: "GRANT|FILE  a grant for a granted capability, offered with it (default: none; repeatable)",
      group: "NAME         join this group (default: none; repeatable)",
      "inbox-max": "N      messages kept for the MCP client (default: 1000)",
    },
    example: "fleet mcp --agent alpha",
  },
  "fleet serve": {
    options: {
      exec: "'CMD'         the command run for each request (required; no default)",
      concurrency: "N     requests at once (default: 4)",
      "timeout-ms": "MS   per request (default: 30000)",
      "queue-max": "N     requests waiting (default: 256)",
      "ledger-max": "N    answered ids remembered (default: 100000)",
      capability: "NAME   offer this capability (default: none; repeatable)",
      grant: "GRANT|FILE  a grant for a granted capability, offered with it (default: none; repeatable)",
      group: "NAME        join this group (default: none; repeatable)",
    },
    example: "fleet serve --agent alpha --exec 'wc -c' --capability count",
  },
  "fleet token": { options: {}, example: "fleet token issue --out beta.token --subject beta" },
  "fleet token issue": {
    options: {
      out: "FILE       where the token goes, 0600 (required; tokens are never printed)",
      subject: "AGENT  the only agent it admits (default: any agent)",
      uses: "N         admissions it allows, 0 = unlimited (default: 0)",
      ttl: "SECONDS    lifetime (default: 86400)",
      holder: "KEY_ID   the key id of the only agent who may present it, as its `fleet keygen` printed (required)",
    },
    example: "fleet token issue --out beta.token --holder ed25519:... --subject beta --uses 1",
  },
  "fleet capability": { options: {}, example: "fleet capability grant compute --holder-key ed25519:... --holder beta" },
  "fleet capability policy": { options: {}, example: "fleet capability policy compute gpu --agent fleet-admin > policy.json" },
  "fleet capability grant": {
    options: {
      "holder-key": "KEY_ID  the holder's key id, as its `fleet keygen` printed (required; no default)",
      holder: "AGENT       the holder's name, bound too (default: unbound; the key binds it)",
      ttl: "DURATION       lifetime, e.g. 90m, 12h, 30d (default: 30d)",
    },
    example: "fleet capability grant compute --holder-key ed25519:... --holder beta --ttl 30d",
  },
  "fleet group": { options: {}, example: "fleet group create ops --send admins" },
  "fleet group create": {
    options: {
      send: "members|admins  who may send to the group (default: members)",
      approval: "             joining needs an admin's approval (default: off)",
    },
    example: "fleet group create ops --send admins --approval",
  },
  "fleet group invite": {
    options: {
      out: "FILE          write the invite to FILE (0600) instead of printing it (default: printed on stdout; an invite is a bearer capability, keep it like a password)",
      uses: "N            joins it allows, 0 = unlimited (default: 0)",
      ttl: "DURATION      lifetime, e.g. 3600, 90m, 1d (default: 1d)",
      holder: "AGENT|KEY_ID  the only agent (name or key id) who may use it (default: anyone holding it)",
    },
    example: "fleet group invite ops --uses 3 --ttl 1d",
  },
  "fleet group join": { options: {}, example: "fleet group join fleet1.CiQ... --agent beta" },
  "fleet group leave": { options: {}, example: "fleet group leave ops --agent beta" },
  "fleet group kick": { options: {}, example: "fleet group kick ops mallory" },
  "fleet group mute": { options: { unmute: "  lift the mute instead (default: off, mute)" }, example: "fleet group mute ops beta" },
  "fleet group approve": { options: {}, example: "fleet group approve ops beta" },
  "fleet group role": { options: {}, example: "fleet group role ops beta admin" },
  "fleet group transfer": { options: {}, example: "fleet group transfer ops beta" },
  "fleet group members": { options: {}, example: "fleet group members ops" },
  "fleet group policy": {
    options: {
      send: "members|admins  change who may send (default: unchanged)",
      approval: "on|off       change whether joining needs approval (default: unchanged)",
    },
    example: "fleet group policy ops --send members --approval off",
  },
};

export const GLOBAL_HELP = `Global options (anywhere on the line):
  --json            machine-readable output: one JSON document (errors too); streams print one JSON object per line
  --home DIR        fleet home (default: $FLEET_HOME, else ~/.fleet)
  --hub HOST:PORT   hub to use (default: config.json's hub, else 127.0.0.1:7420)
  --nats URL        use NATS instead of a hub, e.g. nats://127.0.0.1:4222 (default: $FLEET_NATS, else config.json's "nats")
  --agent NAME      identity to act as (default: config.json's agent, the first one created)
  --token-file FILE admission token for a hub run with --require-token (default: $FLEET_TOKEN_FILE, else $FLEET_TOKEN)
  --version         print the version and exit
  -h, --help        this help`;

export function helpText(commands: Command[], cmd?: Command, path = "fleet"): string {
  if (!cmd) {
    const rows = commands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join("\n");
    return `fleet: the Fleet Protocol command line\n\nUsage: fleet COMMAND [options]\n\nCommands:\n${rows}\n\n${GLOBAL_HELP}\n\nExit status: 0 ok, 1 failure, 2 usage error.\nRun \`fleet COMMAND --help\` for a command's options.`;
  }
  const h = HELP[path];
  const subs = cmd.sub ? `\n\nSubcommands:\n${cmd.sub.map((s) => `  ${s.name.padEnd(8)} ${s.summary}\n           ${s.usage}`).join("\n")}` : "";
  const names = Object.keys(cmd.options ?? {});
  const opts = names.length ? `\n\nOptions:\n${names.map((n) => `  --${n} ${h?.options[n] ?? ""}`.trimEnd()).join("\n")}` : "";
  const example = h ? `\n\nExample:\n  ${h.example}` : "";
  return `${path}: ${cmd.summary}\n\nUsage: ${cmd.usage}${subs}${opts}${example}\n\n${GLOBAL_HELP}`;
}
