// Where a replica keeps its entries. The hub implements this over SQLite; the
// in-memory version serves clients and tests.
import type { RegistryEntry } from "../../generated/proto/fleet/v1/registry_pb.js";

export interface RegistryStorage {
  get(key: string): RegistryEntry | undefined;
  /** Stores the entries (replacing by key) all at once: a failed batch must change nothing. */
  putAll(entries: readonly RegistryEntry[]): void;
  /** Every entry, tombstones included, in any order. */
  all(): Iterable<RegistryEntry>;
}

export class MemoryRegistryStorage implements RegistryStorage {
  private readonly map = new Map<string, RegistryEntry>();

  get(key: string): RegistryEntry | undefined {
    return this.map.get(key);
  }

  putAll(entries: readonly RegistryEntry[]): void {
    for (const e of entries) this.map.set(e.key, e);
  }

  all(): Iterable<RegistryEntry> {
    return this.map.values();
  }
}
