import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { CapabilityExchangeSchema, CapabilitySetSchema } from "../../generated/proto/fleet/v1/capabilities_pb.js";
import { ErrorCode, FleetError } from "../../runtime/errors.js";
import { answerCapabilityExchange, capabilityText, negotiate, negotiateMutual, parseCapability } from "../../runtime/protocol/capabilities.js";
import { compareVersions, highestCommonVersion } from "../../runtime/protocol/versions.js";

const set = (offered: string[], required: string[] = [], optional: string[] = []) =>
  create(CapabilitySetSchema, { offered: offered.map(parseCapability), required: required.map(parseCapability), optional: optional.map(parseCapability) });

describe("capability negotiation", () => {
  it("shares the intersection in a deterministic order, whatever the input order", () => {
    const r1 = negotiate(set(["zeta", "compute@2", "alpha", "store"]), set(["store", "alpha", "compute", "zeta@1"]));
    const r2 = negotiate(set(["store", "alpha", "zeta", "compute@2"]), set(["zeta@1", "compute", "alpha", "store"]));
    expect(r1.shared.map(capabilityText)).toEqual(["alpha", "compute@2", "store", "zeta@1"]);
    expect(r2.shared.map(capabilityText)).toEqual(r1.shared.map(capabilityText));
    expect(r1.error).toBeUndefined();
  });

  it("fails with 403 for a missing required capability and reports 402 for a missing optional one", () => {
    const r = negotiate(set([], ["gpu", "compute@2"], ["cache"]), set(["compute@1", "store"]));
    expect(r.error?.code).toBe(ErrorCode.CAPABILITY_REQUIRED);
    expect(r.missingRequired.map(capabilityText)).toEqual(["compute@2", "gpu"]);
    expect(r.notices.map((e) => e.code)).toEqual([ErrorCode.CAPABILITY_NOT_SUPPORTED]);
    expect(r.missingOptional.map(capabilityText)).toEqual(["cache"]);
    expect(negotiate(set([], ["compute"]), set(["compute@7"])).error).toBeUndefined();
  });

  it("checks both sides' requirements in the mutual form", () => {
    expect(negotiateMutual(set(["a"]), set(["b"], ["c"])).error?.code).toBe(ErrorCode.CAPABILITY_REQUIRED);
    expect(negotiateMutual(set(["c"]), set(["b"], ["c"])).error).toBeUndefined();
  });

  it("answers an exchange once and never a reply; rejects malformed ones", () => {
    const reply = answerCapabilityExchange(set(["compute"]), create(CapabilityExchangeSchema, { capabilities: set(["x"], ["gpu"], ["compute"]) }));
    expect(reply?.isReply).toBe(true);
    expect(reply?.missingRequired.map(capabilityText)).toEqual(["gpu"]);
    expect(answerCapabilityExchange(set(["compute"]), reply!)).toBeUndefined();
    expect(() => answerCapabilityExchange(set([]), create(CapabilityExchangeSchema, {}))).toThrow(FleetError);
    expect(() => parseCapability("Bad Name")).toThrow(FleetError);
  });
});

describe("versions", () => {
  it("picks the highest common version numerically", () => {
    expect(compareVersions("3.10", "3.9")).toBeGreaterThan(0);
    expect(highestCommonVersion(["2.0", "3.9", "3.10"], ["3.10", "3.9", "1.0"])).toBe("3.10");
    expect(highestCommonVersion(["1.0"], ["2.0"])).toBeUndefined();
    expect(highestCommonVersion(["x", "2.0"], ["x", "2.0"])).toBe("2.0");
  });
});
