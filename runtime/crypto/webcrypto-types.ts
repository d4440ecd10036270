// WebCrypto types by way of the global `crypto`, so this code compiles with or without the
// DOM lib (the package is built without it: its declarations must not need it).
type Subtle = typeof globalThis.crypto.subtle;

/** A WebCrypto key (DOM CryptoKey, node:crypto webcrypto.CryptoKey). */
export type WebCryptoKey = Awaited<ReturnType<Subtle["importKey"]>>;
/** A generated key pair (DOM CryptoKeyPair). */
export type WebCryptoKeyPair = { publicKey: WebCryptoKey; privateKey: WebCryptoKey };
/** Bytes as WebCrypto takes them (DOM BufferSource). */
export type WebCryptoBytes = Parameters<Subtle["sign"]>[2];
