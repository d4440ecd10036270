// A replica of the fleet registry (agents, services, health): last-writer-wins by HLC per
// entry, tombstones for deletions, a per-key version vector to detect concurrent writes
// (reported as 502, resolved identically everywhere), and digest/snapshot/delta
// anti-entropy (spec/registry.md). Owner-only writes: a replica given `owners` signs its
// own entries and merges only entries signed by their owner; remote versions beyond its
// clock + skew are refused; counters never wrap. Pure: the caller moves the messages.
import { clone, create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type AgentRecord,
  AgentRecordSchema,
  type HealthRecord,
  HealthRecordSchema,
  type RegistryDelta,
  RegistryDeltaSchema,
  type RegistryDigest,
  RegistryDigestSchema,
  type RegistryEntry,
  RegistryEntrySchema,
  type RegistryQuery,
  type RegistryQueryResult,
  RegistryQueryResultSchema,
  type RegistrySnapshot,
  RegistrySnapshotSchema,
  type ServiceRecord,
  ServiceRecordSchema,
  type VersionCounter,
  VersionCounterSchema,
} from "../../generated/proto/fleet/v1/registry_pb.js";
import type { Clock } from "../clock.js";
import type { Identity } from "../crypto/identity.js";
import type { KeyResolver } from "../crypto/keys.js";
import { DEFAULT_SKEW_MS } from "../crypto/replay.js";
import { asFleetError, ErrorCode, FleetError } from "../errors.js";
import { compareBytes, compareText, equalBytes } from "./bytes.js";
import { compareHlc, HybridClock } from "./hlc.js";
import { BUCKETS, bucketHash, bucketOf, contentHash, entryHash, rootHash } from "./registry-digest.js";
import { MemoryRegistryStorage, type RegistryStorage } from "./registry-storage.js";
import { MAX_CAUSAL_COUNT, registryOwner, signRegistryEntry, verifyRegistryOwner } from "./registry-owner.js";
import { validateRegistryEntry } from "./registry-validate.js";

/** The registry bodies of the Body oneof, as the replica receives and emits them. */
export type RegistryMessage =
  | { case: "registryDigest"; value: RegistryDigest }
  | { case: "registrySnapshot"; value: RegistrySnapshot }
  | { case: "registryDelta"; value: RegistryDelta };

export interface RegistryConflict {
  key: string;
  /** The entry every replica keeps. */
  winner: RegistryEntry;
  /** The concurrent write that lost. */
  loser: RegistryEntry;
  /** REGISTRY_CONFLICT (502). */
  error: FleetError;
}

/** A remote entry a replica refused (not its owner's, unverifiable, or from the future); the rest of its message was merged. */
export interface RegistryRefusal {
  entry: RegistryEntry;
  error: FleetError;
  /**
   * The owner's key is not known here (yet): nothing says the entry is forged. It is left
   * out now and merged when it arrives again after the key is (anti-entropy repeats it).
   */
  unknownKey: boolean;
}

export interface RegistryReplicaOptions {
  node: string;
  clock: Clock;
  storage?: RegistryStorage;
  /**
   * Owner-only writes (spec/registry.md "Owners"): the keys bound to owners' names. Every
   * merged entry must carry its owner's valid signature; local writes are signed with
   * `signer` and only to keys this node owns. Without it a replica takes no remote entries
   * (the hub's, written only from authenticated connections) unless `unverified` is set.
   */
  owners?: KeyResolver;
  /** This node's identity (its agent must equal node): signs local writes when `owners` is set. */
  signer?: Identity;
  /** Tests of the merge algebra only: merge entries without owner checks. Never on a network. */
  unverified?: boolean;
  /** Remote versions later than now + skewMs are refused (605). Default 120 s. */
  skewMs?: number;
  /**
   * A further check of agent records (e.g. granted capabilities, spec/capabilities.md): a
   * remote record it throws for is refused with its error, and no query answers a record,
   * local or stored earlier, it throws for at the time of the query.
   */
  checkRecord?: (record: AgentRecord, pointer: string) => void;
}

type Order = "equal" | "before" | "after" | "concurrent";

function compareCausal(a: readonly VersionCounter[], b: readonly VersionCounter[]): Order {
  const am = new Map(a.map((c) => [c.node, c.count]));
  const bm = new Map(b.map((c) => [c.node, c.count]));
  let less = false;
  let more = false;
  for (const node of new Set([...am.keys(), ...bm.keys()])) {
    const x = am.get(node) ?? 0n;
    const y = bm.get(node) ?? 0n;
    if (x < y) less = true;
    if (x > y) more = true;
  }
  return less && more ? "concurrent" : less ? "before" : more ? "after" : "equal";
}

function mergeCausal(a: readonly VersionCounter[], b: readonly VersionCounter[]): VersionCounter[] {
  const m = new Map<string, bigint>();
  for (const c of [...a, ...b]) m.set(c.node, (m.get(c.node) ?? 0n) > c.count ? m.get(c.node)! : c.count);
  return [...m.entries()].sort((x, y) => compareText(x[0], y[0])).map(([node, count]) => create(VersionCounterSchema, { node, count }));
}

/** Deterministic winner: larger HLC, then larger content hash (only equal for the same write). */
function wins(a: RegistryEntry, b: RegistryEntry): boolean {
  const c = compareHlc(a.version!, b.version!);
  return c !== 0 ? c > 0 : compareBytes(contentHash(a), contentHash(b)) >= 0;
}

export class RegistryReplica {
  readonly node: string;
  private readonly hlc: HybridClock;
  private readonly storage: RegistryStorage;
  private readonly hashes = new Map<string, { hash: Uint8Array; bucket: number }>();
  private readonly changed = new Map<string, number>();
  private readonly buckets: Uint8Array[] = [];
  private readonly dirty = new Set<number>(Array.from({ length: BUCKETS }, (_, b) => b));
  private seq = 0;
  private readonly conflictListeners = new Set<(c: RegistryConflict) => void>();
  private readonly refusalListeners = new Set<(r: RegistryRefusal) => void>();
  private readonly owners: KeyResolver | undefined;
  private signer: Identity | undefined;
  private readonly unverified: boolean;
  private readonly clock: Clock;
  private readonly skewMs: number;
  private readonly changeListeners = new Set<(e: RegistryEntry) => void>();
  private readonly checkRecord: ((record: AgentRecord, pointer: string) => void) | undefined;

  constructor(opts: RegistryReplicaOptions) {
    if (!opts.node) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "replica needs a node name", { pointer: "/node" });
    this.node = opts.node;
    this.owners = opts.owners;
    this.checkRecord = opts.checkRecord;
    this.unverified = opts.unverified ?? false;
    this.clock = opts.clock;
    this.skewMs = opts.skewMs ?? DEFAULT_SKEW_MS;
    if (opts.signer) this.setSigner(opts.signer);
    this.hlc = new HybridClock(opts.node, opts.clock);
    this.storage = opts.storage ?? new MemoryRegistryStorage();
    for (const e of this.storage.all()) {
      this.hashes.set(e.key, { hash: entryHash(e), bucket: bucketOf(e.key) });
      this.hlc.observe(e.version!);
    }
  }

  onConflict(fn: (c: RegistryConflict) => void): () => void {
    this.conflictListeners.add(fn);
    return () => this.conflictListeners.delete(fn);
  }

  /** Remote entries refused one by one (the others of their message are merged). */
  onRefused(fn: (r: RegistryRefusal) => void): () => void {
    this.refusalListeners.add(fn);
    return () => this.refusalListeners.delete(fn);
  }

  /** The identity that signs this node's writes from now on (after a key rotation: the new one). */
  setSigner(identity: Identity): void {
    if (identity.agent !== this.node) throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `replica ${this.node} cannot sign as ${identity.agent}`, { pointer: "/signer" });
    this.signer = identity;
  }

  onChange(fn: (e: RegistryEntry) => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  // ---- local writes ----

  putAgent(record: MessageInitShape<typeof AgentRecordSchema>): RegistryEntry {
    const value = create(AgentRecordSchema, record);
    return this.write(`agent/${value.agentId}`, { case: "agent", value });
  }

  putService(record: MessageInitShape<typeof ServiceRecordSchema>): RegistryEntry {
    const value = create(ServiceRecordSchema, record);
    return this.write(`service/${value.serviceId}`, { case: "service", value });
  }

  putHealth(record: MessageInitShape<typeof HealthRecordSchema>): RegistryEntry {
    const value = create(HealthRecordSchema, record);
    return this.write(`health/${value.agentId}`, { case: "health", value });
  }

  /** Deletes by writing a tombstone, so the deletion replicates like any write. */
  remove(key: string): RegistryEntry {
    return this.write(key, { case: undefined });
  }

  private write(key: string, record: RegistryEntry["record"]): RegistryEntry {
    const prev = this.storage.get(key);
    const own = prev?.causal.find((c) => c.node === this.node)?.count ?? 0n;
    if (own >= MAX_CAUSAL_COUNT) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `${key} has had ${MAX_CAUSAL_COUNT} writes from ${this.node}: its counter would pass the limit`, { pointer: "/causal" });
    const counter = create(VersionCounterSchema, { node: this.node, count: own + 1n });
    // An owned entry counts only its owner's writes; the rest keep the whole vector.
    const causal = this.owners ? [counter] : mergeCausal(prev?.causal ?? [], [counter]);
    const entry = create(RegistryEntrySchema, { key, version: this.hlc.now(), tombstone: record.case === undefined, record, causal });
    validateRegistryEntry(entry, "");
    if (this.owners) {
      const owner = registryOwner(entry);
      if (owner !== this.node) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `${key} belongs to ${owner}; ${this.node} writes only its own records`, { pointer: "/key" });
      if (!this.signer) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `replica ${this.node} has no signer for its writes`, { pointer: "/signer" });
      signRegistryEntry(entry, this.signer);
    }
    this.store([entry]);
    return entry;
  }

  // ---- reads ----

  get(key: string): RegistryEntry | undefined {
    return this.storage.get(key);
  }

  /** Every entry, tombstones included, sorted by key (UTF-8 bytes). */
  entries(): RegistryEntry[] {
    return [...this.storage.all()].sort((a, b) => compareText(a.key, b.key));
  }

  agent(agentId: string): AgentRecord | undefined {
    const r = this.storage.get(`agent/${agentId}`)?.record;
    return r?.case === "agent" ? r.value : undefined;
  }

  health(agentId: string): HealthRecord | undefined {
    const r = this.storage.get(`health/${agentId}`)?.record;
    return r?.case === "health" ? r.value : undefined;
  }

  services(): ServiceRecord[] {
    return this.entries().flatMap((e) => (e.record.case === "service" ? [e.record.value] : []));
  }

  /** Answers a RegistryQuery; isOnline supplies presence for online_only. */
  query(q: RegistryQuery, isOnline: (agentId: string) => boolean = () => true): RegistryQueryResult {
    const agents = this.entries()
      .flatMap((e) => (e.record.case === "agent" ? [e.record.value] : []))
      .filter((a) => (!q.agentId || a.agentId === q.agentId) && (!q.role || a.role === q.role))
      .filter((a) => !this.checkRecord || this.passes(a))
      .filter((a) => !q.capability || a.capabilities.some((c) => c.name === q.capability))
      .filter((a) => !q.onlineOnly || isOnline(a.agentId))
      .filter((a) => !q.afterAgentId || compareText(a.agentId, q.afterAgentId) > 0);
    const health = agents.flatMap((a) => {
      const h = this.health(a.agentId);
      return h ? [h] : [];
    });
    return create(RegistryQueryResultSchema, { agents, health });
  }

  // ---- anti-entropy ----

  /** The 16 bucket hashes; only buckets changed since the last call are recomputed. */
  bucketHashes(): Uint8Array[] {
    if (this.dirty.size) {
      const per = new Map<number, { key: string; hash: Uint8Array }[]>([...this.dirty].map((b) => [b, []]));
      for (const [key, h] of this.hashes) per.get(h.bucket)?.push({ key, hash: h.hash });
      for (const [b, list] of per) this.buckets[b] = bucketHash(b, list.sort((x, y) => compareText(x.key, y.key)).map((x) => x.hash));
      this.dirty.clear();
    }
    return [...this.buckets];
  }

  digest(isReply = false): RegistryDigest {
    const buckets = this.bucketHashes();
    return create(RegistryDigestSchema, { node: this.node, rootHash: rootHash(buckets), entryCount: this.hashes.size, bucketHashes: buckets, isReply });
  }

  /** Entries of the given buckets (all when empty), sorted by key. */
  snapshot(buckets: readonly number[] = []): RegistrySnapshot {
    const want = new Set(buckets);
    const entries = this.entries().filter((e) => !want.size || want.has(this.hashes.get(e.key)!.bucket));
    return create(RegistrySnapshotSchema, { node: this.node, entries, buckets: [...want].sort((a, b) => a - b) });
  }

  /** A counter that grows with every change here; pass it back to deltaSince. */
  get changeMark(): number {
    return this.seq;
  }

  /** Entries changed (locally or by merge) after mark: what to push to a peer last synced at mark. */
  deltaSince(mark: number): RegistryDelta {
    const keys = [...this.changed].filter(([, s]) => s > mark).map(([k]) => k);
    const entries = keys.map((k) => this.storage.get(k)!).sort((a, b) => compareText(a.key, b.key));
    return create(RegistryDeltaSchema, { node: this.node, entries });
  }

  /**
   * Handles one registry message and returns the replies to send back.
   * digest -> nothing when roots match, else a snapshot of the differing buckets;
   * snapshot -> merge, then a delta of what the sender lacks (if anything);
   * delta -> merge. A malformed message throws and changes nothing.
   */
  receive(msg: RegistryMessage): RegistryMessage[] {
    switch (msg.case) {
      case "registryDigest": {
        const d = msg.value;
        validateDigest(d);
        const mine = this.bucketHashes();
        if (equalBytes(d.rootHash, rootHash(mine))) return [];
        const differ = mine.flatMap((h, b) => (equalBytes(h, d.bucketHashes[b]) ? [] : [b]));
        return [{ case: "registrySnapshot", value: this.snapshot(differ) }];
      }
      case "registrySnapshot": {
        const s = msg.value;
        if (!s.node) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "snapshot without node", { pointer: "/node" });
        s.buckets.forEach((b, i) => {
          if (b >= BUCKETS) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "bucket out of range", { pointer: `/buckets/${i}` });
        });
        this.merge(s.entries);
        const theirs = new Map(s.entries.map((e) => [e.key, entryHash(e)]));
        const back = this.snapshot(s.buckets).entries.filter((e) => {
          const h = theirs.get(e.key);
          return !h || !equalBytes(h, this.hashes.get(e.key)!.hash);
        });
        return back.length ? [{ case: "registryDelta", value: create(RegistryDeltaSchema, { node: this.node, entries: back }) }] : [];
      }
      case "registryDelta": {
        if (!msg.value.node) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "delta without node", { pointer: "/node" });
        this.merge(msg.value.entries);
        return [];
      }
      default:
        throw new FleetError(ErrorCode.WIRE_MALFORMED, "not a registry message");
    }
  }

  /**
   * Joins remote entries into this replica (all validated first, then stored in one batch).
   * Returns the keys that changed.
   */
  merge(entries: readonly RegistryEntry[]): string[] {
    if (!this.owners && !this.unverified) throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, `replica ${this.node} takes no remote registry entries (no owner keys to verify them)`, { pointer: "/entries" });
    entries.forEach((e, i) => validateRegistryEntry(e, `/entries/${i}`));
    const refused: RegistryRefusal[] = [];
    const accepted = entries.filter((e, i) => {
      try {
        this.admit(e, `/entries/${i}`);
        return true;
      } catch (err) {
        const sig = e.ownerSignature;
        refused.push({ entry: e, error: asFleetError(err, ErrorCode.SECURITY_UNAUTHORIZED, "registry entry"), unknownKey: !!sig && !!this.owners && !this.owners.resolve(sig.keyId) });
        return false;
      }
    });
    const next = new Map<string, RegistryEntry>();
    const conflicts: RegistryConflict[] = [];
    for (const incoming of accepted) {
      const local = next.get(incoming.key) ?? this.storage.get(incoming.key);
      // New keys are stored as received: merge takes ownership of the entries it is given.
      const joined = local ? this.join(local, incoming, conflicts) : incoming;
      if (!local || !equalBytes(entryHash(joined), entryHash(local))) next.set(incoming.key, joined);
    }
    for (const e of accepted) this.hlc.observe(e.version!);
    this.store([...next.values()]);
    for (const r of refused) for (const fn of this.refusalListeners) fn(r);
    for (const c of conflicts) for (const fn of this.conflictListeners) fn(c);
    return [...next.keys()];
  }

  /** One remote entry's admission: its version is not from the future (605), and, owned, its owner wrote it. */
  private admit(e: RegistryEntry, pointer: string): void {
    const limit = BigInt(this.clock.now() + this.skewMs);
    if (e.version!.wallMs > limit) throw new FleetError(ErrorCode.SECURITY_CLOCK_SKEW, `${e.key} is versioned ${e.version!.wallMs} ms, beyond this replica's clock + ${this.skewMs} ms`, { pointer: `${pointer}/version/wallMs` });
    if (this.owners) verifyRegistryOwner(e, this.owners, pointer);
    if (this.checkRecord && e.record.case === "agent") this.checkRecord(e.record.value, `${pointer}/agent`);
  }

  private passes(a: AgentRecord): boolean {
    try {
      this.checkRecord!(a, "");
      return true;
    } catch {
      return false;
    }
  }

  private join(local: RegistryEntry, incoming: RegistryEntry, conflicts: RegistryConflict[]): RegistryEntry {
    const incomingWins = wins(incoming, local);
    const winner = clone(RegistryEntrySchema, incomingWins ? incoming : local);
    // Owned entries are kept exactly as their owner signed them (one counter, the owner's);
    // the winner's counter may trail the loser's only after concurrent writes by the owner.
    if (!this.owners) winner.causal = mergeCausal(local.causal, incoming.causal);
    const [w, l] = incomingWins ? [incoming, local] : [local, incoming];
    const concurrent = this.owners
      ? !equalBytes(contentHash(w), contentHash(l)) && compareCausal(w.causal, l.causal) !== "after"
      : compareCausal(local.causal, incoming.causal) === "concurrent";
    if (concurrent) {
      const loser = incomingWins ? local : incoming;
      conflicts.push({
        key: local.key,
        winner,
        loser,
        error: new FleetError(ErrorCode.REGISTRY_CONFLICT, `concurrent writes to ${local.key} by ${winner.version!.node} and ${loser.version!.node}; kept ${winner.version!.node}'s`),
      });
    }
    return winner;
  }

  private store(entries: RegistryEntry[]): void {
    if (!entries.length) return;
    this.storage.putAll(entries);
    for (const e of entries) {
      const bucket = this.hashes.get(e.key)?.bucket ?? bucketOf(e.key);
      this.hashes.set(e.key, { hash: entryHash(e), bucket });
      this.dirty.add(bucket);
      this.changed.set(e.key, ++this.seq);
      for (const fn of this.changeListeners) fn(e);
    }
  }
}

function validateDigest(d: RegistryDigest): void {
  if (!d.node) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "digest without node", { pointer: "/node" });
  if (d.rootHash.length !== 32) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "root_hash must be 32 bytes", { pointer: "/rootHash" });
  if (d.bucketHashes.length !== BUCKETS) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `bucket_hashes must hold ${BUCKETS} hashes`, { pointer: "/bucketHashes" });
  d.bucketHashes.forEach((h, i) => {
    if (h.length !== 32) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "bucket hash must be 32 bytes", { pointer: `/bucketHashes/${i}` });
  });
}
