// Hub admission tokens (spec/tokens.md): only the hub's own key issues them, for its own
// audience (its key id), bound to the holder's key. A token captured from someone's Hello
// admits no one else, even under the holder's name before that name is pinned.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterEach, describe, expect, it } from "vitest";
import { TokenClaimsSchema } from "../../generated/proto/fleet/v1/token_pb.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { generateIdentity, identityFromSeed, issueToken, signTokenClaims } from "../../runtime/crypto/index.js";
import { ErrorCode, isFleetError } from "../../runtime/errors.js";
import { HUB_CONNECT_SCOPE, hubAudience } from "../../runtime/hub/options.js";
import { cleanup, inProcessHub, until } from "./support.js";

afterEach(cleanup);

// The client sees the HelloReject's code; the reason travels in its text.
const REFUSALS = [ErrorCode.HANDSHAKE_AUTH_FAILED, ErrorCode.HANDSHAKE_REJECTED, ErrorCode.SECURITY_UNAUTHORIZED, ErrorCode.SECURITY_SIGNATURE_INVALID];
const refusedFor = (reason: RegExp) => (e: unknown) => isFleetError(e) && REFUSALS.includes(e.code) && reason.test(e.message);

describe("hub: admission tokens", () => {
  it("a token captured from alpha's Hello does not admit mallory under alpha's name", async () => {
    const hubId = generateIdentity("fleet-hub");
    const hub = await inProcessHub({ identity: hubId, admission: "token" });
    const alpha = generateIdentity("alpha");
    // mallory holds another key but claims the name alpha, which is not pinned yet.
    const mallory = identityFromSeed("alpha", new Uint8Array(32).fill(7));
    const token = issueToken({ subject: "alpha", audience: hubAudience(hubId), scopes: [HUB_CONNECT_SCOPE], holderKeyId: alpha.keyId }, hubId);
    await expect(connectHub({ port: hub.port, identity: mallory, admissionToken: token })).rejects.toSatisfy(refusedFor(/token is bound to/));
    // The name stayed free: alpha's own key still gets in with the same token, and is pinned.
    const c = await connectHub({ port: hub.port, identity: alpha, admissionToken: token });
    await until(() => hub.hub.pins.keyIdOf("alpha") !== undefined, 5_000, "alpha pinned");
    expect(hub.hub.pins.keyIdOf("alpha")).toBe(alpha.keyId);
    await c.close();
  });

  it("refuses an admission token minted by another pinned agent's key for this hub's audience", async () => {
    const hubId = generateIdentity("fleet-hub");
    const hub = await inProcessHub({ identity: hubId, admission: "token" });
    const alpha = generateIdentity("alpha");
    const beta = generateIdentity("beta");
    // beta is a known agent (pinned by an admission of its own).
    const c = await connectHub({ port: hub.port, identity: beta, admissionToken: issueToken({ audience: hubAudience(hubId), scopes: [HUB_CONNECT_SCOPE], holderKeyId: beta.keyId }, hubId) });
    await c.close();
    const minted = signTokenClaims(
      create(TokenClaimsSchema, { tokenId: "minted", issuer: "beta", subject: "alpha", audience: hubAudience(hubId), scopes: [HUB_CONNECT_SCOPE], holderKeyId: alpha.keyId, issuedAt: timestampFromMs(Date.now()), expiresAt: timestampFromMs(Date.now() + 60_000) }),
      beta,
    );
    await expect(connectHub({ port: hub.port, identity: alpha, admissionToken: minted })).rejects.toSatisfy(refusedFor(/issuer key|issues tokens/));
    // A token for another hub's audience (another key id) is refused too.
    const other = generateIdentity("other-hub");
    const elsewhere = issueToken({ audience: hubAudience(other), scopes: [HUB_CONNECT_SCOPE], holderKeyId: alpha.keyId }, other);
    await expect(connectHub({ port: hub.port, identity: alpha, admissionToken: elsewhere })).rejects.toSatisfy(refusedFor(/issuer key|issues tokens|token is for/));
  });
});
