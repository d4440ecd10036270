// An agent-swarm member written from agent-swarm-protocol 0.1.0's wire rules (SwarmClient,
// Transport, MessageBuilder, crypto, tokens): its own HTTPS endpoint receiving /message,
// invite URLs parsed and their EdDSA JWT checked against the master key, /join, and signed
// messages POSTed to a member's endpoint + "/message".
import { randomUUID } from "node:crypto";
import { createServer, request, type Server } from "node:https";
import { fromBase64Url, generateIdentity, verifyEd25519, type Identity } from "../../../runtime/crypto/index.js";
import { signSwarmMessage, SWARM_PROTOCOL_VERSION, swarmTime, verifySwarmMessage, type SwarmMessage } from "../../../runtime/bridges/swarm/wire.js";

export type Json = Record<string, unknown>;

export function httpsJson(url: string, ca: string, method: "GET" | "POST", body?: unknown, agentId = ""): Promise<{ status: number; body: Json }> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? "" : JSON.stringify(body);
    const req = request(url, { method, ca, headers: { "content-type": "application/json", "x-agent-id": agentId, "x-swarm-protocol": SWARM_PROTOCOL_VERSION, "content-length": Buffer.byteLength(text) } }, (res) => {
      let data = "";
      res.on("data", (d) => (data += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data ? (JSON.parse(data) as Json) : {} }));
    });
    req.on("error", reject);
    req.end(text);
  });
}

export class SwarmMember {
  readonly identity: Identity;
  readonly received: SwarmMessage[] = [];
  server!: Server;
  endpoint = "";
  swarmId = "";
  members: Json[] = [];

  constructor(readonly agentId: string, readonly tls: { cert: string; key: string }) {
    this.identity = generateIdentity(agentId);
  }

  get publicKey(): string {
    return Buffer.from(this.identity.publicKey).toString("base64");
  }

  async listen(): Promise<void> {
    this.server = createServer(this.tls, (req, res) => {
      let data = "";
      req.on("data", (d) => (data += d));
      req.on("end", () => {
        if (req.method === "POST" && req.url === `/${this.agentId}/message`) {
          const m = JSON.parse(data) as SwarmMessage;
          this.received.push(m);
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "queued", message_id: m.message_id }));
        } else res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", () => r()));
    this.endpoint = `https://127.0.0.1:${(this.server.address() as { port: number }).port}/${this.agentId}`;
  }

  /** Parses swarm://<id>@host?token=JWT, checks the JWT with masterKey (std base64), POSTs /join to its endpoint. */
  async join(invite: string, masterKey: string | undefined, ca: string): Promise<{ status: number; body: Json }> {
    const m = /^swarm:\/\/([^@]+)@([^?]+)\?token=(.+)$/.exec(invite);
    if (!m) throw new Error("not an invite URL");
    const token = m[3]!;
    const [h, p, sig] = token.split(".") as [string, string, string];
    const payload = JSON.parse(Buffer.from(fromBase64Url(p)).toString("utf8")) as Json;
    if (payload.swarm_id !== m[1]) throw new Error("swarm id mismatch");
    if (masterKey && !verifyEd25519(Uint8Array.from(Buffer.from(masterKey, "base64")), new TextEncoder().encode(`${h}.${p}`), fromBase64Url(sig))) throw new Error("invite signature invalid");
    const r = await httpsJson(`${payload.endpoint as string}/join`, ca, "POST", { type: "system", action: "join_request", invite_token: token, sender: { agent_id: this.agentId, endpoint: this.endpoint, public_key: this.publicKey } }, this.agentId);
    if (r.status === 200) {
      this.swarmId = String(r.body.swarm_id);
      this.members = r.body.members as Json[];
    }
    return r;
  }

  build(recipient: string, content: string, over: Partial<SwarmMessage> = {}): SwarmMessage {
    return signSwarmMessage({ protocol_version: SWARM_PROTOCOL_VERSION, message_id: randomUUID(), timestamp: swarmTime(Date.now()), sender: { agent_id: this.agentId, endpoint: this.endpoint }, recipient, swarm_id: this.swarmId, type: "message", content, ...over }, this.identity);
  }

  /** Sends to a member by agent_id (POST to its endpoint + "/message"). */
  async sendTo(agentId: string, msg: SwarmMessage, ca: string): Promise<{ status: number; body: Json }> {
    const member = this.members.find((x) => x.agent_id === agentId);
    if (!member) throw new Error(`${agentId} is not a member`);
    return httpsJson(`${member.endpoint as string}/message`, ca, "POST", msg, this.agentId);
  }

  /** Checks a received message with the sender's key from the membership list. */
  verified(m: SwarmMessage): boolean {
    const member = this.members.find((x) => x.agent_id === m.sender.agent_id);
    return Boolean(member) && verifySwarmMessage(m, Uint8Array.from(Buffer.from(member!.public_key as string, "base64")));
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
