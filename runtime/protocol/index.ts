// The protocol module: transport-independent coordination state machines, driven by an
// injected Clock. Each is pure (the caller moves the bytes) with storage behind small
// interfaces the hub implements over SQLite.
export { compareBytes, compareText, equalBytes } from "./bytes.js";
export { PROTOCOL_VERSION, SUPPORTED_VERSIONS, compareVersions, highestCommonVersion, parseVersion } from "./versions.js";
export * from "./capabilities.js";
export * from "./capability-grants.js";
export { CONTROL_TTL_SECONDS, controlEnvelope, expiresAtMs, type ControlEnvelope } from "./envelope.js";
export { openSelfCertified, openSelfCertifiedAsync, withIntroducedKey } from "./verify.js";
export * from "./handshake.js";
export * from "./heartbeat.js";
export * from "./discovery.js";
export { compareHlc, HybridClock } from "./hlc.js";
export { limitRegistryAnswer, MAX_REGISTRY_ANSWER_AGENTS, MAX_REGISTRY_ANSWER_BYTES, MAX_REGISTRY_PAGES, readRegistryPages, type RegistryAnswerLimits } from "./registry-answer.js";
export { BUCKETS, bucketHash, bucketOf, contentHash, entryHash, rootHash } from "./registry-digest.js";
export { MemoryRegistryStorage, type RegistryStorage } from "./registry-storage.js";
export { parseRegistryKey, validateRegistryEntry } from "./registry-validate.js";
export { RegistryReplica, type RegistryConflict, type RegistryMessage, type RegistryRefusal, type RegistryReplicaOptions } from "./registry.js";
export { MAX_CAUSAL_COUNT, ownerSigningBytes, registryOwner, signRegistryEntry, verifyRegistryOwner } from "./registry-owner.js";
export * from "./bottle-condition.js";
export { postmarkBytes, stampBottle, verifyPostmarks } from "./bottle-postmark.js";
export { bottleKey, MemoryBottleStorage, type BottleStorage, type StoredBottle } from "./bottle-storage.js";
export * from "./bottles.js";
export * from "./dedupe.js";
export * from "./receipts.js";
export * from "./groups/index.js";
