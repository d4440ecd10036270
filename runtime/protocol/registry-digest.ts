// The exact bytes behind registry digests (spec/registry.md): entry hashes, 16 bucket
// hashes and the root hash. Equal roots mean equal registries, so replicas in sync
// exchange one hash and nothing else.
import { toBinary } from "@bufbuild/protobuf";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  AgentRecordSchema,
  HealthRecordSchema,
  type RegistryEntry,
  ServiceRecordSchema,
  type VersionCounter,
} from "../../generated/proto/fleet/v1/registry_pb.js";
import { pae, u64be } from "../crypto/pae.js";

export const BUCKETS = 16;
const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** Bucket of a key: the first hex digit of SHA-256(UTF-8 key). */
export function bucketOf(key: string): number {
  return sha256(utf8.encode(key))[0] >> 4;
}

function recordBytes(entry: RegistryEntry): [string, Uint8Array] {
  const r = entry.record;
  switch (r.case) {
    case "agent":
      return ["agent", toBinary(AgentRecordSchema, r.value)];
    case "service":
      return ["service", toBinary(ServiceRecordSchema, r.value)];
    case "health":
      return ["health", toBinary(HealthRecordSchema, r.value)];
    default:
      return ["", EMPTY];
  }
}

export function causalBytes(causal: readonly VersionCounter[]): Uint8Array {
  return pae("fleet.v1.registry.causal", ...causal.flatMap((c) => [c.node, u64be(c.count)]));
}

/** Hash of what was written (key, version, tombstone, record), without the causal context. */
export function contentHash(entry: RegistryEntry): Uint8Array {
  const v = entry.version!;
  const [kind, bytes] = recordBytes(entry);
  return sha256(pae("fleet.v1.registry.content", entry.key, u64be(v.wallMs), u64be(v.logical), v.node, new Uint8Array([entry.tombstone ? 1 : 0]), kind, bytes));
}

/** Hash of the whole entry, causal context included: what digests compare. */
export function entryHash(entry: RegistryEntry): Uint8Array {
  return sha256(pae("fleet.v1.registry.entry", contentHash(entry), causalBytes(entry.causal)));
}

/** bucketHashes[b] = SHA-256(PAE("fleet.v1.registry.bucket", u64be(b), entry hashes of bucket b in key order)). */
export function bucketHash(bucket: number, hashesInKeyOrder: readonly Uint8Array[]): Uint8Array {
  return sha256(pae("fleet.v1.registry.bucket", u64be(bucket), ...hashesInKeyOrder));
}

export function rootHash(bucketHashes: readonly Uint8Array[]): Uint8Array {
  return sha256(pae("fleet.v1.registry.root", ...bucketHashes));
}
