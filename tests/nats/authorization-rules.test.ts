// The permissions authorization.ts derives, without a server: spec/nats-auth.md's table and
// CHANNEL_RULES agree (both ways), every channel of the subject table has its rule, and the
// group rules follow the folded chain (members subscribe; who may send by the policy publishes:
// not a muted member, only admins in an announce channel, nobody pending).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GroupRole, GroupSendPolicy } from "../../generated/proto/fleet/v1/group_pb.js";
import { generateIdentity, type Identity } from "../../runtime/crypto/index.js";
import { ErrorCode } from "../../runtime/errors.js";
import { agentPermissions, CHANNEL_RULES, foldChains, renderAuthorization, buildAuthorization } from "../../runtime/nats/authorization.js";
import { CHANNEL_SUBJECTS, subjects } from "../../runtime/nats/subjects.js";
import { applyGroupStatement, issueInvite, KeyHistory, signGroupStatement, type GroupState, type StatementInit } from "../../runtime/protocol/groups/index.js";

const ids = { owner: generateIdentity("owner"), admin: generateIdentity("admin"), member: generateIdentity("member"), muted: generateIdentity("muted"), waiting: generateIdentity("waiting") };
const agents = Object.values(ids).map((i) => ({ agent: i.agent, publicKey: i.publicKey }));

function chain(send: GroupSendPolicy): Uint8Array[] {
  const keys = new KeyHistory();
  for (const a of agents) keys.add(a.agent, a.publicKey);
  const out: Uint8Array[] = [];
  let state: GroupState | undefined;
  const add = (action: StatementInit["action"], by: Identity) => {
    const bytes = signGroupStatement({ group: "news.eu", seq: (state?.seq ?? 0n) + 1n, prev: state?.head ?? new Uint8Array(), at: Date.now(), action }, by);
    state = applyGroupStatement(state, bytes, keys);
    out.push(bytes);
  };
  add({ case: "create", value: { policy: { send, joinApproval: false } } }, ids.owner);
  for (const who of [ids.admin, ids.member, ids.muted]) {
    const invite = issueInvite("news.eu", ids.owner, { uses: 1 });
    add({ case: "join", value: { invite } }, who);
  }
  add({ case: "setRole", value: { agent: "admin", role: GroupRole.ADMIN } }, ids.owner);
  add({ case: "mute", value: { agent: "muted", muted: true } }, ids.owner);
  add({ case: "setPolicy", value: { policy: { send, joinApproval: true } } }, ids.owner);
  const invite = issueInvite("news.eu", ids.owner, { uses: 1 });
  add({ case: "join", value: { invite } }, ids.waiting); // pending: joins need approval now
  return out;
}

describe("nats-server permissions (spec/nats-auth.md)", () => {
  it("the spec's table and CHANNEL_RULES agree, and every channel has a rule", () => {
    const spec = readFileSync(new URL("../../spec/nats-auth.md", import.meta.url), "utf8");
    const section = spec.slice(spec.indexOf("## Permissions per channel"), spec.indexOf("## JetStream"));
    const word = (cell: string) => (cell.startsWith("own") ? "own" : cell.startsWith("groups where it may send") ? "sender" : cell.startsWith("groups it is a member") ? "member" : "any");
    const fromSpec: Record<string, { publish: string; subscribe: string }> = {};
    for (const line of section.split("\n").filter((l) => /^\| [a-zA-Z]/.test(l) && !l.startsWith("| channel"))) {
      const [channels, subjectCell, publish, subscribe] = line.split(" | ").map((c) => c.replace(/^\| |\s*\|$/g, ""));
      const names = channels.split(", ");
      const addresses = subjectCell.split(", ").map((s) => s.replace(/`/g, ""));
      names.forEach((n, i) => {
        fromSpec[n] = { publish: word(publish), subscribe: word(subscribe) };
        expect(addresses[i], n).toBe(CHANNEL_SUBJECTS[n as keyof typeof CHANNEL_SUBJECTS]);
      });
    }
    expect(fromSpec).toEqual(JSON.parse(JSON.stringify(CHANNEL_RULES)));
    expect(Object.keys(CHANNEL_RULES).sort()).toEqual(Object.keys(CHANNEL_SUBJECTS).sort());
  });

  it("group subjects: members subscribe, the policy's senders publish (not muted, admins only in an announce channel, nobody pending)", async () => {
    const token = subjects.group("news.eu"); // the name escaped into one token
    for (const [send, senders] of [
      [GroupSendPolicy.MEMBERS, ["admin", "member", "owner"]],
      [GroupSendPolicy.ADMINS, ["admin", "owner"]],
    ] as const) {
      const groups = foldChains([{ group: "news.eu", statements: chain(send) }], agents);
      for (const a of agents) {
        const p = await agentPermissions(a.agent, groups);
        expect(p.subscribe.allow.includes(token), `${a.agent} subscribes`).toBe(["admin", "member", "muted", "owner"].includes(a.agent));
        expect(p.publish.allow.includes(token), `${a.agent} publishes (${GroupSendPolicy[send]})`).toBe((senders as readonly string[]).includes(a.agent));
        // Never another agent's own subjects, never a wildcard group.
        if (a.agent !== "owner") expect(p.subscribe.allow).not.toContain(subjects.agentInbox("owner"));
        expect(p.subscribe.allow.some((s) => s.startsWith("fleet.v1.group.*") || s === ">" || s.startsWith("_INBOX."))).toBe(false);
        expect(p.publish.allow).toContain(subjects.keys(a.agent));
        expect(p.publish.allow.filter((s) => s.startsWith("fleet.v1.keys."))).toEqual([subjects.keys(a.agent)]);
      }
    }
  });

  it("a chain that does not fold, or that is another group's, is refused with its code and the group named", () => {
    const statements = chain(GroupSendPolicy.MEMBERS);
    expect(() => foldChains([{ group: "news.eu", statements: statements.slice(1) }], agents)).toThrow(/group news\.eu/);
    const wrong = (() => {
      try {
        foldChains([{ group: "ops", statements }], agents);
      } catch (e) {
        return e as { code: number; message: string };
      }
    })();
    expect(wrong?.code).toBe(ErrorCode.SECURITY_UNAUTHORIZED);
    expect(wrong?.message).toMatch(/group ops: the chain given as ops is group news\.eu/);
    // Signed by a key the generator does not know: the fold refuses it.
    expect(() => foldChains([{ group: "news.eu", statements }], agents.filter((a) => a.agent !== "owner"))).toThrow(/group news\.eu/);
  });

  it("the rendered file quotes every subject ($JS..., >) and holds no seed", async () => {
    const users = await buildAuthorization({ agents: agents.slice(1), admins: agents.slice(0, 1) });
    const text = renderAuthorization(users);
    expect(text).toContain('"$JS.API.INFO"');
    expect(text).not.toMatch(/[^"]\$JS/);
    expect(text.match(/"nkey":"U[A-Z2-7]{55}"/g)).toHaveLength(5);
    expect(text).not.toMatch(/\bSU[A-Z2-7]{56}\b/);
  });
});
