// Signed group statements (spec/groups.md "Signed bytes"): a SignedGroupStatement holds the
// exact GroupStatement bytes and the signer's Ed25519 signature over
// PAE("fleet.v1.group-statement", "application/vnd.fleet.v1.group-statement+proto", statement).
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  GroupStatementSchema,
  SignedGroupStatementSchema,
  type GroupStatement,
  type SignedGroupStatement,
} from "../../../generated/proto/fleet/v1/group_pb.js";
import { SignatureScheme } from "../../../generated/proto/fleet/v1/signed_pb.js";
import { decodeMessage, encodeMessage, parseMessage } from "../../codec/index.js";
import { constantTimeEqual } from "../../crypto/bytes.js";
import { ED25519_SIG_BYTES, verifyEd25519 } from "../../crypto/ed25519.js";
import type { Identity } from "../../crypto/identity.js";
import { Domain, pae } from "../../crypto/pae.js";
import { ErrorCode, FleetError } from "../../errors.js";
import type { GroupKeys } from "./keys.js";

export const GROUP_STATEMENT_TYPE = "application/vnd.fleet.v1.group-statement+proto";
/** A statement (with an invite inside) is a few hundred bytes; larger input is refused unread. */
export const MAX_STATEMENT_BYTES = 16_384;

export type GroupAction = GroupStatement["action"];
export type StatementInit = Omit<MessageInitShape<typeof GroupStatementSchema>, "$typeName" | "signer" | "at"> & { at: number };

export function statementSigningBytes(statement: Uint8Array): Uint8Array {
  return pae(Domain.groupStatement, GROUP_STATEMENT_TYPE, statement);
}

/** SHA-256 of a statement's bytes: the next statement's `prev`. */
export function statementHash(statement: Uint8Array): Uint8Array {
  return sha256(statement);
}

/** Signs a statement as `signer` (signer and at come from the identity and init.at). */
export function signGroupStatement(init: StatementInit, signer: Identity): Uint8Array {
  const { at, ...rest } = init;
  const msg = create(GroupStatementSchema, { ...rest, signer: signer.agent, at: timestampFromMs(at) });
  const statement = encodeMessage(GroupStatementSchema, msg);
  const signed = create(SignedGroupStatementSchema, {
    statement,
    signature: { scheme: SignatureScheme.ED25519, keyId: signer.keyId, sig: signer.sign(statementSigningBytes(statement)) },
  });
  return toBinary(SignedGroupStatementSchema, signed);
}

export interface OpenedStatement {
  /** The exact signed bytes of the whole SignedGroupStatement. */
  bytes: Uint8Array;
  /** The GroupStatement bytes (what `prev` hashes). */
  statementBytes: Uint8Array;
  statement: GroupStatement;
  keyId: string;
  /** Unix ms of statement.at. */
  at: number;
}

const invalid = (message: string, pointer = "") => new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, message, { pointer });

/**
 * Verification steps 1-3 of spec/groups.md: canonical bytes, signature by a known key, then the
 * statement parsed and validated, its signer the key's owner and `at` inside the key's window.
 */
export function openGroupStatement(bytes: Uint8Array, keys: GroupKeys): OpenedStatement {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_STATEMENT_BYTES) throw invalid(`a signed statement is at most ${MAX_STATEMENT_BYTES} bytes`);
  let signed: SignedGroupStatement;
  try {
    signed = parseMessage(SignedGroupStatementSchema, bytes);
  } catch (e) {
    throw new FleetError(ErrorCode.SECURITY_SIGNATURE_INVALID, "not a fleet.v1.SignedGroupStatement", { cause: e });
  }
  if (!constantTimeEqual(toBinary(SignedGroupStatementSchema, signed), bytes)) throw invalid("signed statement is not canonically encoded");
  const sig = signed.signature;
  if (!sig || sig.scheme !== SignatureScheme.ED25519) throw invalid("a statement must be signed with Ed25519", "/signature/scheme");
  if (sig.sig.length !== ED25519_SIG_BYTES) throw invalid(`signature must be ${ED25519_SIG_BYTES} bytes`, "/signature/sig");
  const key = keys.lookup(sig.keyId);
  if (!key) throw invalid(`unknown key ${sig.keyId}`, "/signature/keyId");
  if (!verifyEd25519(key.publicKey, statementSigningBytes(signed.statement), sig.sig)) throw invalid("statement signature does not verify", "/signature/sig");
  const statement = decodeMessage(GroupStatementSchema, signed.statement);
  if (statement.action.case === undefined) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "a statement needs an action", { pointer: "/action" });
  if (statement.signer !== key.agent) throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `key ${sig.keyId} belongs to ${key.agent}, not ${statement.signer}`, { pointer: "/signer" });
  const at = timestampMs(statement.at!);
  if (at < key.from || (key.until !== undefined && at >= key.until)) {
    throw new FleetError(ErrorCode.SECURITY_KEY_MISMATCH, `key ${sig.keyId} was not ${statement.signer}'s key at ${new Date(at).toISOString()}`, { pointer: "/signature/keyId" });
  }
  return { bytes, statementBytes: signed.statement, statement, keyId: sig.keyId, at };
}
