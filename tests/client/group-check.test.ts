// The recipient's group check keeps bounded state: groups followed (maxGroups, then 804) and
// the (group, sender) refresh memory (maxRefreshKeys, then emptied); strict refuses groups the
// hub has no chain for. Real hub, real connection; envelopes handed to the check directly.
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { EnvelopeSchema } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { GroupCheck, MAX_REFRESH_KEYS } from "../../runtime/client/group-check.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { systemClock } from "../../runtime/clock.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import { ErrorCode, isFleetError } from "../../runtime/errors.js";
import { cleanup, inProcessHub } from "../hub/support.js";

afterEach(cleanup);

const toGroup = (group: string, sender: string) => create(EnvelopeSchema, { id: "m", sender, recipient: { target: { case: "group", value: group } } });

describe("GroupCheck bounds", () => {
  it("follows at most maxGroups groups (804), remembers at most maxRefreshKeys pairs, and strict refuses unchained groups (603)", async () => {
    const hub = await inProcessHub();
    const conn = await connectHub({ port: hub.port, identity: generateIdentity("reader"), groupCheck: false });
    const check = new GroupCheck(systemClock, { maxGroups: 2 });
    // Groups without a chain pass (announced membership) unless strict.
    await check.check(conn, toGroup("a", "x"));
    await check.check(conn, toGroup("b", "x"));
    await expect(check.check(conn, toGroup("c", "x"))).rejects.toSatisfy((e: unknown) => isFleetError(e, ErrorCode.DELIVERY_BUSY));
    // refreshMs 0: every (group, sender) pair is remembered, up to the bound.
    const eager = new GroupCheck(systemClock, { maxRefreshKeys: 16, refreshMs: 0 });
    const asked = (eager as unknown as { askedFor: Map<string, number> }).askedFor;
    for (let i = 0; i < 10; i++) await eager.check(conn, toGroup("a", `s${i}`));
    expect(asked.size).toBe(10);
    for (let i = 10; i < 40; i++) await eager.check(conn, toGroup("a", `s${i}`));
    expect(asked.size).toBeLessThanOrEqual(16);
    expect(MAX_REFRESH_KEYS).toBe(4096);
    const strict = new GroupCheck(systemClock, { strict: true });
    await expect(strict.check(conn, toGroup("a", "x"))).rejects.toSatisfy((e: unknown) => isFleetError(e, ErrorCode.SECURITY_UNAUTHORIZED));
    await conn.close();
  });
});
