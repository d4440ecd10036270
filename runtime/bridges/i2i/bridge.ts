// The I2I bridge (spec/bridges/i2i.md): a git repository I2I agents clone, push to and pull
// from as before, served by ordinary `git daemon` (one per agent, its URL its credential).
// Pushes that would rewrite history, delete a branch, or carry a v0.1 commit claiming
// another sender are refused by the repository's pre-receive hook. Each new [I2I:...] commit
// on the message branch becomes a Fleet message from "i2i:<sender>" (id = commit id, the
// full commit message carried verbatim); each Fleet message to "i2i:<name>" becomes a v0.1
// commit on that branch, appended (fast-forward only), never rewriting what is there.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { MessageType, type Envelope } from "../../../generated/proto/fleet/v1/envelope_pb.js";
import { applicationValue } from "../../client/draft.js";
import { errorBody } from "../../client/bodies.js";
import { systemClock, type Clock, type TimerId } from "../../clock.js";
import { ErrorCode } from "../../errors.js";
import { BridgeKeys } from "../shared/bridge-keys.js";
import { ProxyPool, type FleetConnector, type FleetLink } from "../shared/fleet-link.js";
import { startAgentDaemon, type AgentDaemon } from "./daemon.js";
import { git, readCommit } from "./git.js";
import { preReceiveHook } from "./hook.js";
import { i2iAlias, isI2IName, parseI2ICommit, v01Subject } from "./subjects.js";

export const I2I_COMMIT_MEDIA_TYPE = "application/vnd.i2i.commit+json";
export const I2I_PREFIX = "i2i:";
/** v1/v2 commits (no recipient in the subject) go to this Fleet group. */
export const I2I_GROUP = "i2i";
/** At most this many Fleet names are remembered as I2I aliases. */
export const MAX_ALIASES = 10_000;
const BRIDGE_EMAIL = "fleet-bridge@i2i.invalid";

export interface I2IBridgeOptions {
  connect: FleetConnector;
  /** The bare repository I2I agents use (created when missing). Bridge state lives in its fleet-bridge/ folder. */
  repoDir: string;
  /** I2I agents allowed to push (each gets a git daemon URL). */
  agents: string[];
  branch?: string;
  keys?: BridgeKeys;
  host?: string;
  /** How often the branch is checked for new commits (default 250 ms). */
  pollMs?: number;
  clock?: Clock;
  log?: (line: string) => void;
}

export class I2IBridge {
  readonly repoDir: string;
  readonly stateDir: string;
  readonly daemons = new Map<string, AgentDaemon>();
  private readonly keys: BridgeKeys;
  private readonly clock: Clock;
  private readonly proxies: ProxyPool;
  private readonly aliases = new Map<string, string>();
  private readonly ownCommits = new Set<string>();
  private chain: Promise<unknown> = Promise.resolve();
  private cursor = "";
  private timer?: TimerId;
  private closed = false;

  constructor(private readonly o: I2IBridgeOptions) {
    this.repoDir = resolve(o.repoDir);
    this.stateDir = join(this.repoDir, "fleet-bridge");
    this.keys = o.keys ?? BridgeKeys.ephemeral();
    this.clock = o.clock ?? systemClock;
    this.proxies = new ProxyPool({
      connect: o.connect,
      identityFor: (name) => this.keys.identity("i2i-proxy", I2I_PREFIX + name),
      attach: (name, link) => link.onMessage((env) => this.serial(() => this.fromFleet(name, link, env))),
    });
  }

  get branch(): string {
    return this.o.branch ?? "main";
  }

  private get cursorFile(): string {
    return join(this.stateDir, "cursor");
  }

  async start(): Promise<this> {
    for (const a of this.o.agents) if (!isI2IName(a)) throw new Error(`not an I2I agent name: ${a}`);
    if (!existsSync(join(this.repoDir, "HEAD"))) {
      mkdirSync(dirname(this.repoDir), { recursive: true });
      await git(dirname(this.repoDir), ["init", "--bare", "--initial-branch", this.branch, this.repoDir]);
      const tree = (await git(this.repoDir, ["mktree"], { input: "" })).trim();
      const root = (await git(this.repoDir, ["commit-tree", tree, "-m", "Fleet I2I bridge: message branch"], { env: this.authorEnv("fleet-bridge") })).trim();
      await git(this.repoDir, ["update-ref", `refs/heads/${this.branch}`, root, ""]);
    }
    // History is never rewritten: git refuses it too, before the hook runs.
    await git(this.repoDir, ["config", "receive.denyNonFastForwards", "true"]);
    await git(this.repoDir, ["config", "receive.denyDeletes", "true"]);
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    const hook = join(this.repoDir, "hooks", "pre-receive");
    writeFileSync(hook, preReceiveHook(process.execPath), { mode: 0o755 });
    chmodSync(hook, 0o755);
    this.cursor = existsSync(this.cursorFile) ? readFileSync(this.cursorFile, "utf8").trim() : await this.head();
    for (const agent of this.o.agents) {
      this.daemons.set(agent, await startAgentDaemon({ agent, repoDir: this.repoDir, stateDir: this.stateDir, host: this.o.host }));
      await this.proxies.get(agent);
    }
    // The agents' URLs are their push credentials: a 0600 file, never printed.
    writeFileSync(this.urlsFile, JSON.stringify(Object.fromEntries([...this.daemons].map(([a, d]) => [a, d.url])), null, 2) + "\n", { mode: 0o600 });
    chmodSync(this.urlsFile, 0o600);
    this.poll();
    return this;
  }

  /** JSON {agent: url} of every agent's clone/push URL (0600). */
  get urlsFile(): string {
    return join(this.stateDir, "urls.json");
  }

  /** The clone/push URL of an I2I agent. */
  urlOf(agent: string): string | undefined {
    return this.daemons.get(agent)?.url;
  }

  private authorEnv(name: string): NodeJS.ProcessEnv {
    return { GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: BRIDGE_EMAIL, GIT_COMMITTER_NAME: "fleet-bridge", GIT_COMMITTER_EMAIL: BRIDGE_EMAIL };
  }

  private async head(): Promise<string> {
    return (await git(this.repoDir, ["rev-parse", `refs/heads/${this.branch}`])).trim();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => {});
    return next;
  }

  private poll(): void {
    if (this.closed) return;
    this.timer = this.clock.setTimer(() => {
      void this.serial(() => this.scan())
        .catch((e) => this.o.log?.(`i2i: ${(e as Error).message}`))
        .finally(() => this.poll());
    }, this.o.pollMs ?? 250);
  }

  private pushers(): Map<string, string> {
    const file = join(this.repoDir, "fleet-bridge", "pushers");
    const map = new Map<string, string>();
    if (!existsSync(file)) return map;
    for (const line of readFileSync(file, "utf8").split("\n")) {
      const [rev, agent] = line.split(" ");
      if (rev && agent) map.set(rev, agent);
    }
    return map;
  }

  /** New commits on the branch since the cursor, oldest first, each to the fleet. */
  async scan(): Promise<void> {
    const head = await this.head();
    if (head === this.cursor) return;
    const revs = (await git(this.repoDir, ["rev-list", "--reverse", `${this.cursor}..${head}`])).trim().split("\n").filter(Boolean);
    const pushers = revs.length ? this.pushers() : new Map<string, string>();
    for (const rev of revs) {
      if (this.ownCommits.delete(rev)) continue;
      const c = await readCommit(this.repoDir, rev);
      if (c.authorEmail === BRIDGE_EMAIL) continue;
      const parsed = parseI2ICommit(c.message);
      const sender = pushers.get(rev);
      if (parsed && sender) await this.toFleet(sender, c.id, c.message, parsed);
      this.cursor = rev;
      writeFileSync(this.cursorFile, rev + "\n", { mode: 0o600 });
    }
    this.cursor = head;
    writeFileSync(this.cursorFile, head + "\n", { mode: 0o600 });
  }

  private async toFleet(sender: string, commit: string, message: string, m: ReturnType<typeof parseI2ICommit> & object): Promise<void> {
    let to: string;
    if (m.format === "v0.1") {
      if (m.to === "*") to = "fleet:broadcast";
      else if (this.o.agents.includes(m.to!)) return; // I2I to I2I: the repository already delivered it
      else to = this.aliases.get(m.to!) ?? m.to!;
    } else to = `group:${I2I_GROUP}`;
    try {
      const link = await this.proxies.get(sender);
      await link.send({
        to,
        id: commit,
        type: m.type === "response" ? MessageType.RESPONSE : m.format === "v0.1" && m.type === "request" ? MessageType.REQUEST : MessageType.EVENT,
        threadId: m.thread,
        requiresAck: to.startsWith("group:") || to === "fleet:broadcast" ? false : true,
        json: { commit, message, ...m },
      });
    } catch (e) {
      this.o.log?.(`i2i: commit ${commit.slice(0, 12)} from ${sender} to ${to} not delivered: ${(e as Error).message}`);
    }
  }

  private async fromFleet(name: string, link: FleetLink, env: Envelope): Promise<void> {
    if (env.type === MessageType.ERROR || env.type === MessageType.STATUS) return;
    const value = applicationValue(env);
    const text = typeof value === "string" ? value : value instanceof Uint8Array ? undefined : JSON.stringify(value);
    if (text === undefined) {
      void link.send({ to: env.sender, type: MessageType.ERROR, inReplyTo: env.id, body: errorBody(ErrorCode.WIRE_UNSUPPORTED_PAYLOAD_TYPE, "I2I commits carry text or JSON only", { messageId: env.id }) }).catch(() => {});
      return;
    }
    const alias = i2iAlias(env.sender);
    if (!this.aliases.has(alias) && this.aliases.size >= MAX_ALIASES) this.aliases.delete(this.aliases.keys().next().value!);
    this.aliases.set(alias, env.sender);
    const type = env.type === MessageType.RESPONSE ? "response" : "request";
    const subject = v01Subject(alias, name, type, text, env.threadId ? i2iAlias(env.threadId) : undefined);
    const message = `${subject}\n\n${text}\n\nFleet-Message-Id: ${env.id}\nFleet-Sender: ${env.sender}\n`;
    for (let attempt = 0; attempt < 5; attempt++) {
      const head = await this.head();
      const tree = (await git(this.repoDir, ["rev-parse", `${head}^{tree}`])).trim();
      const commit = (await git(this.repoDir, ["commit-tree", tree, "-p", head, "-F", "-"], { env: this.authorEnv(alias), input: message })).trim();
      try {
        // Compare-and-swap: only a fast-forward of the head just read.
        await git(this.repoDir, ["update-ref", `refs/heads/${this.branch}`, commit, head]);
        this.ownCommits.add(commit);
        return;
      } catch {
        // a push landed in between: build on the new head
      }
    }
    void link.send({ to: env.sender, type: MessageType.ERROR, inReplyTo: env.id, body: errorBody(ErrorCode.DELIVERY_BUSY, "I2I branch kept moving; retry", { messageId: env.id }) }).catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    await this.chain;
    await this.proxies.closeAll();
    await Promise.all([...this.daemons.values()].map((d) => d.stop()));
  }
}

export function startI2IBridge(o: I2IBridgeOptions): Promise<I2IBridge> {
  return new I2IBridge(o).start();
}
