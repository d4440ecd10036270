// Groups as owned, signed state (spec/groups.md).
export { currentKeys, KeyHistory, MAX_GROUP_KEYS, type GroupKey, type GroupKeys } from "./keys.js";
export { checkInvite, INVITE_SCOPE, inviteAudience, issueInvite, type InviteOptions } from "./invite.js";
export { GROUP_STATEMENT_TYPE, MAX_STATEMENT_BYTES, openGroupStatement, signGroupStatement, statementHash, statementSigningBytes, type OpenedStatement, type StatementInit } from "./statement.js";
export { applyGroupStatement, checkSend, foldGroup, isMember, MAX_COUNTED_INVITES, MAX_GROUP_MEMBERS, maySend, type GroupMember, type GroupState } from "./state.js";
