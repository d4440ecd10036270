// The registry replica's storage over the hub's SQLite store: entries survive restarts.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type RegistryEntry, RegistryEntrySchema } from "../../generated/proto/fleet/v1/registry_pb.js";
import type { RegistryStorage } from "../protocol/registry-storage.js";
import type { HubStore } from "./store.js";

export class SqliteRegistryStorage implements RegistryStorage {
  private readonly cache = new Map<string, RegistryEntry>();

  constructor(private readonly store: HubStore) {
    for (const row of store.registryEntries()) this.cache.set(row.key, fromBinary(RegistryEntrySchema, row.entry));
  }

  get(key: string): RegistryEntry | undefined {
    return this.cache.get(key);
  }

  putAll(entries: readonly RegistryEntry[]): void {
    // Written in one transaction first; the cache changes only when the batch is durable.
    this.store.transaction(() => {
      for (const e of entries) this.store.putRegistry(e.key, toBinary(RegistryEntrySchema, e));
    });
    for (const e of entries) this.cache.set(e.key, e);
  }

  /** Drops an entry from memory (the caller deleted its row: HubStore.forgetAgent). Hub-local: its registry is not replicated. */
  forget(key: string): void {
    this.cache.delete(key);
  }

  all(): Iterable<RegistryEntry> {
    return this.cache.values();
  }
}
