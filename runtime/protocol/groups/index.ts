// Groups as owned, signed state (spec/groups.md).
export { currentKeys, KeyHistory, MAX_GROUP_KEYS, type GroupKey, type GroupKeys } from "./keys.js";
export { checkInvite, INVITE_SCOPE, inviteAudience, issueInvite, type InviteOptions } from "./invite.js";
export { GROUP_STATEMENT_TYPE, MAX_STATEMENT_BYTES, openGroupStatement, signGroupStatement, statementHash, statementSigningBytes, type OpenedStatement, type StatementInit } from "./statement.js";
export { applyGroupStatement, checkSend, foldGroup, isMember, GROUP_STATEMENT_SKEW_MS, MAX_CHAINED_GROUPS, MAX_COUNTED_INVITES, MAX_GROUP_MEMBERS, MAX_GROUP_STATEMENTS, maySend, type GroupMember, type GroupState } from "./state.js";
export { groupStateJson, type GroupStateJson } from "./json.js";
