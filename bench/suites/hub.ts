// The local hub beside a Debian nats-server, same machine, same run, same Node client
// harness, same bytes: routed 1 KiB messages per second and p50/p99 latency with 2, 8 and
// 64 agents in a ring (agent i sends to agent i+1), each sender keeping a bounded window
// in flight. The hub runs as its own process (`fleet hub`), as nats-server does, with
// `--verify none` and no rate limit. Messages are pre-signed, so the figure is the
// carrier's, not Ed25519's; the hub forwards each signed packet unchanged. Goal: hub >=
// 0.5x nats-server. Then 1,000 idle connected agents and the hub's RSS (goal < 200 MB).
// Each hub row also reports the hub process's own CPU time per message (per handshake):
// on a shared machine it is a steadier before/after figure than the rates.
// NATS rows are skipped cleanly when nats-server is missing. Bounded in count and time.
// Then the reconnect storm (1,000 agents after kill -9 and restart: goal all back within 3 s;
// the restarted hub's CPU per handshake: goal <= 1 ms, i.e. >= 1,000 handshakes/s) and the
// handshake's responder side alone in memory (the protocol's share of that CPU).
// Last, the TCP carrier's frame writes (header and body as two buffers) beside writing one
// copied header+body buffer, in this process's CPU time per 1 KiB frame.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { create } from "@bufbuild/protobuf";
import { connect as natsConnect, type NatsConnection } from "nats";
import { ApplicationPayloadSchema } from "../../generated/proto/fleet/v1/payload_pb.js";
import { PacketSchema, type SignedEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { pingBody } from "../../runtime/client/bodies.js";
import { buildEnvelope } from "../../runtime/client/draft.js";
import type { HubConnection } from "../../runtime/client/connection.js";
import { connectHub, handshake } from "../../runtime/client/hub-client.js";
import { systemClock } from "../../runtime/clock.js";
import { decodePacket, encodeFrame, encodePacket } from "../../runtime/codec/index.js";
import { generateIdentity, PinnedKeys, signEnvelope, type Identity } from "../../runtime/crypto/index.js";
import { HandshakeInitiator, HandshakeResponder, type HeldTicket } from "../../runtime/protocol/handshake.js";
import { connectTcp } from "../../runtime/transport/tcp.js";
import { HubTickets } from "../../runtime/hub/tickets.js";
import type { FrameConnection } from "../../runtime/transport/listener.js";
import { hasNatsServer, natsSkipMessage, startNatsServer } from "../../tests/support/nats-server.js";
import { median, percentile, type BenchRow, type BenchSuite } from "../harness.js";

const ROOT = resolve(import.meta.dirname, "../..");
const PAYLOAD_BYTES = 1024;
const TOTAL_MESSAGES = 30_000; // per round and configuration, split across the senders
const ROUNDS = 3;
const WINDOW = 128; // in flight per sender
const MAX_RUN_MS = 30_000;
const IDLE_AGENTS = 1_000;
const AGENT_COUNTS = [2, 8, 64];

interface Carrier {
  /** Sends packet bytes from agent i to agent (i+1) % n. */
  send(i: number, bytes: Uint8Array): void;
  /** Sets the per-agent receive callback for this run (called once per delivered message). */
  onReceive(i: number, cb: () => void): void;
}

interface RunResult {
  rate: number;
  p50: number;
  p99: number;
}

/** Ring run: each agent sends its pre-built packets to the next, at most WINDOW unanswered. */
async function ringRun(carrier: Carrier, packets: Uint8Array[][]): Promise<RunResult> {
  const n = packets.length;
  const per = packets[0].length;
  const sentAt = packets.map(() => new Float64Array(per));
  const sent = new Array<number>(n).fill(0);
  const got = new Array<number>(n).fill(0);
  const latencies: number[] = [];
  let delivered = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => (done = r));
  const pump = (i: number) => {
    // Receiver of i is (i+1) % n; its count tells how many of i's messages arrived.
    const rcv = (i + 1) % n;
    while (sent[i] < per && sent[i] - got[rcv] < WINDOW) {
      sentAt[i][sent[i]] = performance.now();
      carrier.send(i, packets[i][sent[i]]);
      sent[i]++;
    }
  };
  for (let r = 0; r < n; r++) {
    const from = (r - 1 + n) % n;
    carrier.onReceive(r, () => {
      const k = got[r]++;
      if (k % 16 === 0) latencies.push(performance.now() - sentAt[from][k]);
      if (++delivered === n * per) done();
      else if (got[r] % 32 === 0) pump(from);
    });
  }
  const start = performance.now();
  for (let i = 0; i < n; i++) pump(i);
  const timer = setTimeout(() => done(), MAX_RUN_MS);
  await finished;
  clearTimeout(timer);
  const elapsed = performance.now() - start;
  if (delivered < n * per) throw new Error(`only ${delivered} of ${n * per} messages arrived within ${MAX_RUN_MS} ms (sent ${sent.join(",")}; got ${got.join(",")})`);
  return { rate: (delivered / elapsed) * 1000, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function spawnHubProcess(home: string, extra: string[] = []): Promise<{ port: number; child: ChildProcess }> {
  // FLEET_BENCH_HUB_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" profiles the hub processes.
  const nodeArgs = process.env.FLEET_BENCH_HUB_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, "bin/fleet.js"), "hub", "--port", "0", "--json", "--rate", "0", "--verify", "none", ...extra], {
    env: { ...process.env, FLEET_HOME: home },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolvePromise, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`hub did not start: ${out}`)), 20_000);
    child.stdout!.on("data", (d) => {
      out += d;
      const line = out.split("\n").find((l) => l.includes('"listening"'));
      if (line) {
        clearTimeout(timer);
        child.stdout!.removeAllListeners("data");
        child.stdout!.resume();
        resolvePromise({ port: (JSON.parse(line) as { port: number }).port, child });
      }
    });
    child.once("exit", (code) => reject(new Error(`hub exited (${code}): ${out}`)));
  });
}

/** CPU time (user + system) the process has used so far, in ms (Linux /proc, clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  // Fields after the parenthesised command name: state is 3rd, utime 14th, stime 15th.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** CPU time of one thread of a process (its main thread: tid = pid), in ms. */
function threadCpuMs(pid: number, tid: number): number {
  const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

interface BenchConn {
  conn: FrameConnection;
  /** The current run's receive callback. */
  onFrame: () => void;
}

/**
 * Handshaken raw frame connections (16 handshakes at a time). Each pings the hub and waits
 * for the answer, so the hub has bound every agent before a run starts (nothing takes the
 * offline-store path).
 */
async function hubConnections(port: number, identities: Identity[]): Promise<BenchConn[]> {
  const out: BenchConn[] = [];
  for (let i = 0; i < identities.length; i += 16) {
    const batch = await Promise.all(
      identities.slice(i, i + 16).map(async (identity) => {
        const conn = await connectTcp("127.0.0.1", port);
        const est = await handshake(conn, { port, identity }, systemClock);
        const bc: BenchConn = { conn, onFrame: () => {} };
        await new Promise<void>((answered) => {
          conn.onFrame(() => answered());
          const ping = buildEnvelope({ to: "fleet:hub", type: MessageType.QUERY, body: pingBody() }, identity.agent, systemClock);
          conn.send(encodePacket(create(PacketSchema, { kind: { case: "session", value: est.session.seal(ping) } })));
        });
        conn.onFrame(() => bc.onFrame());
        return bc;
      }),
    );
    out.push(...batch);
  }
  return out;
}

/** Pre-signed Packets from identities[i] to identities[i+1]: 1 KiB of data each, unique ids. */
function ringPackets(identities: Identity[], per: number, round: number): Uint8Array[][] {
  const n = identities.length;
  const body = { case: "application" as const, value: create(ApplicationPayloadSchema, { mediaType: "application/octet-stream", content: { case: "data", value: new Uint8Array(PAYLOAD_BYTES).fill(0x61) } }) };
  return identities.map((id, i) =>
    Array.from({ length: per }, (_, k) => {
      const env = buildEnvelope({ to: identities[(i + 1) % n].agent, id: `${id.agent}-${round}-${k}`, body, ttlSeconds: 600 }, id.agent, systemClock);
      return encodePacket(create(PacketSchema, { kind: { case: "signed", value: signEnvelope(env, id) } }));
    }),
  );
}

/** Median rate of the rounds, latency percentiles pooled over them. */
function summarize(runs: RunResult[]): RunResult & { rounds: number[] } {
  return { rate: median(runs.map((r) => r.rate)), p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)), rounds: runs.map((r) => Math.round(r.rate)) };
}

export const suite: BenchSuite = {
  name: "hub",
  async run(): Promise<BenchRow[]> {
    const rows: BenchRow[] = [];
    const home = mkdtempSync(join(tmpdir(), "fleet-bench-hub-"));
    const hub = await spawnHubProcess(home);
    const nats = hasNatsServer ? await startNatsServer({ jetstream: false }) : undefined;
    if (!nats) process.stderr.write(`${natsSkipMessage}\n`);
    try {
      for (const n of AGENT_COUNTS) {
        const per = Math.floor(TOTAL_MESSAGES / n);
        const identities = Array.from({ length: n }, (_, i) => generateIdentity(`b${n}-${i}`));
        const conns = await hubConnections(hub.port, identities);
        const hubCarrier: Carrier = {
          send: (i, bytes) => conns[i].conn.send(bytes),
          onReceive: (i, cb) => (conns[i].onFrame = cb),
        };
        let natsCarrier: Carrier | undefined;
        const ncs: NatsConnection[] = [];
        if (nats) {
          ncs.push(...(await Promise.all(identities.map(() => natsConnect({ servers: nats.url })))));
          const handlers = identities.map(() => () => {});
          ncs.forEach((c, i) => c.subscribe(`bench.ring.${i}`, { callback: () => handlers[i]() }));
          await Promise.all(ncs.map((c) => c.flush()));
          natsCarrier = { send: (i, bytes) => ncs[i].publish(`bench.ring.${(i + 1) % n}`, bytes), onReceive: (i, cb) => (handlers[i] = cb) };
        }
        // Alternating rounds, so drift in machine load hits both; each round carries the
        // same pre-signed bytes on both (fresh ids per round: the hub dedupes).
        const hubRuns: RunResult[] = [];
        const natsRuns: RunResult[] = [];
        let hubCpu = 0;
        for (let round = 0; round < ROUNDS; round++) {
          const packets = ringPackets(identities, per, round);
          const cpu0 = cpuMs(hub.child.pid!);
          hubRuns.push(await ringRun(hubCarrier, packets));
          hubCpu += cpuMs(hub.child.pid!) - cpu0;
          if (natsCarrier) natsRuns.push(await ringRun(natsCarrier, packets));
        }
        for (const c of conns) c.conn.close();
        await Promise.all(ncs.map((c) => c.close()));
        const h = summarize(hubRuns);
        const natsName = `nats-server routed 1KiB, ${n} agents`;
        rows.push({
          suite: "hub",
          name: `hub routed 1KiB, ${n} agents`,
          rate: h.rate,
          unit: "msg/s",
          anchor: nats ? natsName : undefined,
          goal: nats ? { min: 0.5, on: "ratio" } : undefined,
          extra: { p50_ms: round2(h.p50), p99_ms: round2(h.p99), messages_per_round: n * per, rounds: h.rounds.join("/"), hub_cpu_us_per_msg: round2((hubCpu * 1000) / (ROUNDS * n * per)) },
        });
        if (natsRuns.length) {
          const m = summarize(natsRuns);
          rows.push({ suite: "hub", name: natsName, rate: m.rate, unit: "msg/s", extra: { p50_ms: round2(m.p50), p99_ms: round2(m.p99), messages_per_round: n * per, rounds: m.rounds.join("/") } });
        }
      }
    } finally {
      hub.child.kill("SIGINT");
      await nats?.stop();
    }
    // Memory: 1,000 idle connected agents on a fresh hub process.
    const memHome = mkdtempSync(join(tmpdir(), "fleet-bench-hub-mem-"));
    const memHub = await spawnHubProcess(memHome);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const before = rssMb(memHub.child.pid!);
      const cpu0 = cpuMs(memHub.child.pid!);
      const t0 = performance.now();
      const idle = await hubConnections(memHub.port, Array.from({ length: IDLE_AGENTS }, (_, i) => generateIdentity(`idle-${i}`)));
      const connectRate = (IDLE_AGENTS / (performance.now() - t0)) * 1000;
      const cpuPerHandshake = (cpuMs(memHub.child.pid!) - cpu0) / IDLE_AGENTS;
      await new Promise((r) => setTimeout(r, 500));
      const after = rssMb(memHub.child.pid!);
      for (const c of idle) c.conn.close();
      rows.push({
        suite: "hub",
        name: `hub: ${IDLE_AGENTS.toLocaleString("en-US")} idle agents connected (handshakes/s)`,
        rate: connectRate,
        unit: "ops/s",
        extra: { hub_cpu_ms_per_handshake: round2(cpuPerHandshake), hub_rss_mb: round2(after), hub_rss_before_mb: round2(before), rss_delta_mb: round2(after - before), rss_goal_mb: 200, rss_ok: after < 200 ? "yes" : "NO" },
      });
    } finally {
      memHub.child.kill("SIGTERM");
      rmSync(home, { recursive: true, force: true });
      rmSync(memHome, { recursive: true, force: true });
    }
    rows.push(...(await reconnectStormRows()));
    rows.push(...responderRows());
    rows.push(...(await frameWriteRows()));
    return rows;
  },
};

const STORM_AGENTS = 1_000;
const STORM_GOAL_MS = 3_000;

/**
 * Reconnect storm: STORM_AGENTS real clients (connectHub, default reconnection: jittered
 * backoff, 1 s jittered to [0.5, 1) s; default resumption: each holds the ticket of its last
 * handshake) on a hub process that is killed (SIGKILL) and restarted on the same port and
 * store (so with the same ticket key); the time from the new hub listening until every client
 * reports "connected" again (goal: within 3 s), and the restarted hub's CPU per handshake,
 * whose inverse is its handshake capacity (goal: >= 1,000/s). The keys are already pinned:
 * nothing is written. The restarted process is cold: part of its CPU is V8's background
 * threads compiling and collecting (reported apart: hub_main_thread_ms_per_handshake). Then
 * the same agents handshake with the now warm hub (raw handshakes, 256 in flight), twice in
 * full and twice resumed with the tickets of the full ones; the second wave of each kind is
 * the steady-state cost reported.
 */
export async function reconnectStormRows(): Promise<BenchRow[]> {
  const home = mkdtempSync(join(tmpdir(), "fleet-bench-storm-"));
  let hub = await spawnHubProcess(home);
  const port = hub.port;
  const clients: HubConnection[] = [];
  try {
    const ids = Array.from({ length: STORM_AGENTS }, (_, i) => generateIdentity(`storm-${i}`));
    for (let i = 0; i < ids.length; i += 32) {
      clients.push(...(await Promise.all(ids.slice(i, i + 32).map((identity) => connectHub({ port, identity })))));
    }
    const exited = new Promise((r) => hub.child.once("exit", r));
    hub.child.kill("SIGKILL");
    await exited;
    await new Promise((r) => setTimeout(r, 200)); // every client has seen its link go
    hub = await spawnHubProcess(home, ["--port", String(port)]);
    const pid = hub.child.pid!;
    const t0 = performance.now();
    const cpu0 = cpuMs(pid);
    const main0 = threadCpuMs(pid, pid);
    const clientCpu0 = process.cpuUsage();
    const load = loadavg()[0];
    const deadline = t0 + 30_000;
    // When each client was first seen connected again (polled every 5 ms).
    const backAt = new Map<HubConnection, number>();
    while (backAt.size < clients.length && performance.now() < deadline) {
      for (const c of clients) if (!backAt.has(c) && c.status === "connected") backAt.set(c, performance.now() - t0);
      if (backAt.size < clients.length) await new Promise((r) => setTimeout(r, 5));
    }
    const ms = performance.now() - t0;
    const cpuPer = (cpuMs(pid) - cpu0) / STORM_AGENTS;
    const mainPer = (threadCpuMs(pid, pid) - main0) / STORM_AGENTS;
    const clientCpu = process.cpuUsage(clientCpu0);
    const back = clients.filter((c) => c.status === "connected").length;
    const resumed = clients.filter((c) => c.resumed).length;
    const times = [...backAt.values()];
    // The warm hub: the same pinned agents once more, as raw handshakes.
    await Promise.race([Promise.all(clients.splice(0).map((c) => c.close())), new Promise((r) => setTimeout(r, 5_000))]);
    await new Promise((r) => setTimeout(r, 500));
    const tickets = new Map<Identity, HeldTicket>();
    const full = await measuredWaves(pid, () => warmWave(port, ids, tickets));
    const resumedWarm = await measuredWaves(pid, () => warmWave(port, ids, tickets, true));
    return [
      {
        suite: "hub",
        name: `hub: reconnect storm, ${STORM_AGENTS.toLocaleString("en-US")} agents after kill -9 and restart (agents/s)`,
        rate: (back / ms) * 1000,
        unit: "ops/s",
        extra: {
          all_back_ms: Math.round(ms),
          p50_back_ms: Math.round(percentile(times, 50)),
          reconnected: back,
          resumed_with_ticket: resumed,
          goal_ms: STORM_GOAL_MS,
          within_goal: back === STORM_AGENTS && ms <= STORM_GOAL_MS ? "yes" : "NO",
          hub_cpu_ms_per_handshake: round2(cpuPer),
          hub_main_thread_ms_per_handshake: round2(mainPer),
          // The clients run in this process: their CPU (handshakes, and refused attempts while the hub was down) competes with the hub's.
          clients_cpu_ms_per_agent: round2((clientCpu.user + clientCpu.system) / 1000 / STORM_AGENTS),
          // The machine's 1-minute load average when the storm began (2 cores): other work slows both sides.
          load_1m: round2(load),
        },
      },
      {
        suite: "hub",
        name: "hub handshake capacity, reconnect storm, restarted (cold) hub (1 / hub CPU per handshake)",
        rate: 1000 / cpuPer,
        unit: "ops/s",
        goal: { min: 1_000, on: "rate" },
        extra: { hub_cpu_ms_per_handshake: round2(cpuPer), hub_main_thread_ms_per_handshake: round2(mainPer), resumed_with_ticket: resumed },
      },
      {
        suite: "hub",
        name: "hub handshake capacity, resumed with a ticket, warm hub (1 / hub CPU per handshake)",
        rate: 1000 / resumedWarm.cpuPer,
        unit: "ops/s",
        goal: { min: 1_000, on: "rate" },
        anchor: "hub handshake capacity, full handshake, pinned keys, warm hub (1 / hub CPU per handshake)",
        extra: waveExtra(resumedWarm),
      },
      {
        suite: "hub",
        name: "hub handshake capacity, full handshake, pinned keys, warm hub (1 / hub CPU per handshake)",
        rate: 1000 / full.cpuPer,
        unit: "ops/s",
        extra: waveExtra(full),
      },
    ];
  } finally {
    // Bounded: a client that cannot close cleanly must not keep the hub (or the bench) alive.
    await Promise.race([Promise.all(clients.map((c) => c.close())), new Promise((r) => setTimeout(r, 5_000))]);
    hub.child.kill("SIGTERM");
    rmSync(home, { recursive: true, force: true });
  }
}

interface Waves {
  cpuPer: number;
  mainPer: number;
  wallPerS: number;
  failed: number;
  /** CPU per handshake of each wave, ms: the first warms up, the last is reported. */
  waves: number[];
}

/** Two waves of the same kind; the second's hub CPU per handshake is the steady state. */
async function measuredWaves(pid: number, wave: () => Promise<number>): Promise<Waves> {
  const waves: number[] = [];
  let last: Waves | undefined;
  for (let i = 0; i < 2; i++) {
    await new Promise((r) => setTimeout(r, 300));
    const c0 = cpuMs(pid);
    const m0 = threadCpuMs(pid, pid);
    const t0 = performance.now();
    const failed = await wave();
    const ms = performance.now() - t0;
    const cpuPer = (cpuMs(pid) - c0) / STORM_AGENTS;
    waves.push(round2(cpuPer));
    last = { cpuPer, mainPer: (threadCpuMs(pid, pid) - m0) / STORM_AGENTS, wallPerS: (STORM_AGENTS / ms) * 1000, failed, waves };
  }
  return last!;
}

function waveExtra(w: Waves): Record<string, string | number> {
  return { hub_cpu_ms_per_handshake: round2(w.cpuPer), hub_main_thread_ms_per_handshake: round2(w.mainPer), wall_handshakes_per_s: Math.round(w.wallPerS), failed: w.failed, waves_ms: w.waves.join("/") };
}

/**
 * Every identity handshakes with the hub once over its own connection (WARM_IN_FLIGHT at a
 * time; none started after WARM_MAX_MS), then every connection closes. Full handshakes keep
 * the ticket each got in `tickets`; with `resume`, each presents its ticket instead of signing.
 * Returns how many failed (a resumed one that did not resume counts as failed).
 */
async function warmWave(port: number, ids: Identity[], tickets: Map<Identity, HeldTicket>, resume = false): Promise<number> {
  let next = 0;
  let failed = 0;
  const conns: FrameConnection[] = [];
  const stopAt = performance.now() + WARM_MAX_MS;
  const worker = async () => {
    while (next < ids.length && performance.now() < stopAt) {
      const identity = ids[next++];
      try {
        const conn = await connectTcp("127.0.0.1", port);
        conns.push(conn);
        const est = await handshake(conn, { port, identity }, systemClock, resume ? tickets.get(identity) : undefined);
        if (resume && !est.resumed) failed++;
        if (!resume && est.ticket) tickets.set(identity, est.ticket);
      } catch {
        failed++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: WARM_IN_FLIGHT }, worker));
  } finally {
    for (const c of conns) c.close();
  }
  return failed + (ids.length - next);
}

const WARM_MAX_MS = 30_000;
const WARM_IN_FLIGHT = 256;

const RESPONDER_HANDSHAKES = 1_000;
const RESPONDER_ROUNDS = 3;

/**
 * The handshake's responder side alone, in memory, for pinned initiators: Hello in (verify,
 * X25519, Welcome signed), Confirm in (verify, Finished). This process's CPU per handshake,
 * the median of three rounds of 1,000: the part of the hub's cost that is the protocol (its
 * crypto and the JS around it), without sockets, store or logging. The initiators' work is
 * done outside the measured calls. Frames cross as encoded packets, as on the wire. Then the
 * same with each initiator resuming with the ticket its previous round got (HMACs, no Ed25519).
 */
export function responderRows(): BenchRow[] {
  const hubId = generateIdentity("fleet-hub");
  const ids = Array.from({ length: RESPONDER_HANDSHAKES }, (_, i) => generateIdentity(`pinned-${i}`));
  const pins = new PinnedKeys();
  for (const id of ids) pins.pin(id.agent, id.publicKey);
  const ticketDir = mkdtempSync(join(tmpdir(), "fleet-bench-tickets-"));
  const tickets = HubTickets.open(ticketDir, 3_600_000, systemClock);
  rmSync(ticketDir, { recursive: true, force: true });
  const wire = (signed: SignedEnvelope) => encodePacket(create(PacketSchema, { kind: { case: "signed", value: signed } }));
  const unwire = (bytes: Uint8Array): SignedEnvelope => {
    const p = decodePacket(bytes);
    if (p.kind.case !== "signed") throw new Error("not a signed packet");
    return p.kind.value;
  };
  const held = new Map<number, HeldTicket>();
  const measure = (resume: boolean): number[] => {
    const perRound: number[] = [];
    for (let round = 0; round < RESPONDER_ROUNDS + 1; round++) {
      const initiators = ids.map((identity, k) => new HandshakeInitiator({ identity, keys: new PinnedKeys(), clock: systemClock, resume: resume ? held.get(k) : undefined }));
      const hellos = initiators.map((i) => wire(i.start()));
      const responders = ids.map(() => new HandshakeResponder({ identity: hubId, keys: pins, clock: systemClock, hub: true, tickets }));
      let c0 = process.cpuUsage();
      const welcomes = responders.map((r, k) => wire(r.receive(unwire(hellos[k])).send!));
      let cpu = process.cpuUsage(c0);
      const confirms = initiators.map((i, k) => {
        const step = i.receive(unwire(welcomes[k]));
        if (step.established?.resumed !== resume) throw new Error("resumption did not happen as asked");
        held.set(k, step.established.ticket!);
        return wire(step.send!);
      });
      c0 = process.cpuUsage();
      for (let k = 0; k < responders.length; k++) if (!responders[k].receive(unwire(confirms[k])).established) throw new Error("handshake failed");
      const cpu2 = process.cpuUsage(c0);
      for (const i of initiators) i.cancel();
      cpu = { user: cpu.user + cpu2.user, system: cpu.system + cpu2.system };
      if (round > 0) perRound.push((cpu.user + cpu.system) / 1000 / RESPONDER_HANDSHAKES); // round 0 warms up
    }
    return perRound;
  };
  const full = measure(false);
  const resumed = measure(true);
  const fullName = "handshake responder alone, in memory, pinned keys (1 / CPU per handshake)";
  const row = (name: string, perRound: number[], anchor?: string): BenchRow => ({
    suite: "hub",
    name,
    rate: 1000 / median(perRound),
    unit: "ops/s",
    anchor,
    extra: { cpu_ms_per_handshake: round2(median(perRound)), rounds_ms: perRound.map(round2).join("/") },
  });
  return [row(fullName, full), row("handshake responder alone, in memory, resumed with a ticket (1 / CPU per handshake)", resumed, fullName)];
}

const FRAME_WRITES = 200_000; // per round and way, 64 per event-loop turn as a busy hub writes
const FRAME_ROUNDS = 6;

/** CPU µs per 1 KiB frame written to a loopback peer that discards it (both sides in this process). */
async function frameWriteCpu(write: (body: Uint8Array) => void, backlog: () => number, drained: () => Promise<unknown>): Promise<number> {
  const body = new Uint8Array(PAYLOAD_BYTES).fill(0x61);
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < FRAME_WRITES; i += 64) {
    for (let k = 0; k < 64; k++) write(body);
    // Wait out the turn (the carrier uncorks on nextTick), and any backlog.
    await new Promise((r) => setImmediate(r));
    if (backlog() > 1 << 20) await drained();
  }
  const c = process.cpuUsage(cpu0);
  return (c.user + c.system) / FRAME_WRITES;
}

/** The carrier's send (header + body, corked) beside socket.write(encodeFrame(body)) corked per turn. */
async function frameWriteRows(): Promise<BenchRow[]> {
  const server = createServer((s) => s.on("data", () => {}));
  await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0 }, () => r()));
  const port = (server.address() as { port: number }).port;
  const raw = createConnection({ host: "127.0.0.1", port });
  await new Promise((r) => raw.once("connect", r));
  raw.setNoDelay(true);
  const conn = await connectTcp("127.0.0.1", port);
  let corked = false;
  const copied = (body: Uint8Array) => {
    if (!corked) {
      corked = true;
      raw.cork();
      process.nextTick(() => ((corked = false), raw.uncork()));
    }
    raw.write(encodeFrame(body));
  };
  const carrier: number[] = [];
  const copy: number[] = [];
  try {
    // Alternating which goes first, so warm-up and drift hit both.
    const runCopy = async () => copy.push(await frameWriteCpu(copied, () => raw.writableLength, () => new Promise((done) => raw.once("drain", done))));
    const runCarrier = async () => carrier.push(await frameWriteCpu((b) => conn.send(b), () => conn.bufferedAmount, () => new Promise<void>((done) => conn.onDrain(done))));
    for (let r = 0; r < FRAME_ROUNDS; r++) {
      if (r % 2 === 0) await runCopy().then(runCarrier);
      else await runCarrier().then(runCopy);
    }
  } finally {
    conn.close();
    raw.destroy();
    server.close();
  }
  const anchor = "TCP write of one copied header+body buffer, 1KiB (CPU)";
  return [
    { suite: "hub", name: "TCP carrier frame writes, header + body, 1KiB (CPU)", rate: 1e6 / median(carrier), unit: "ops/s", anchor, extra: { cpu_us_per_frame: round2(median(carrier)), rounds_us: carrier.map(round2).join("/") } },
    { suite: "hub", name: anchor, rate: 1e6 / median(copy), unit: "ops/s", extra: { cpu_us_per_frame: round2(median(copy)), rounds_us: copy.map(round2).join("/") } },
  ];
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
