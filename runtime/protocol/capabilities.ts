// Capability negotiation: what both sides share, and which of our needs the peer leaves
// unmet (required -> 403, optional -> 402). Every list comes back in one deterministic
// order (name, then version, by UTF-8 bytes) so both sides compute identical results.
import { create } from "@bufbuild/protobuf";
import {
  type Capability,
  CapabilitySchema,
  type CapabilitySet,
  CapabilitySetSchema,
  type CapabilityExchange,
  CapabilityExchangeSchema,
} from "../../generated/proto/fleet/v1/capabilities_pb.js";
import { ErrorCode, FleetError } from "../errors.js";
import { compareText } from "./bytes.js";
import { codePoints } from "../codec/validate.js";

const NAME = /^[a-z0-9._-]{1,64}$/;

export interface NegotiationResult {
  /** Capabilities both sides offer, sorted. */
  shared: Capability[];
  /** Our required capabilities the peer does not offer. */
  missingRequired: Capability[];
  /** Our optional capabilities the peer does not offer. */
  missingOptional: Capability[];
  /** 403 when a required capability is missing. */
  error?: FleetError;
  /** One 402 per missing optional capability: reported, not fatal. */
  notices: FleetError[];
}

export function capability(name: string, version = ""): Capability {
  return create(CapabilitySchema, { name, version });
}

/** Parses "name" or "name@version". */
export function parseCapability(text: string): Capability {
  const at = text.indexOf("@");
  const c = at < 0 ? capability(text) : capability(text.slice(0, at), text.slice(at + 1));
  validateCapability(c, "");
  return c;
}

export function capabilityText(c: Capability): string {
  return c.version ? `${c.name}@${c.version}` : c.name;
}

export function validateCapability(c: Capability, pointer: string): void {
  if (!NAME.test(c.name)) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `capability name must be 1..64 of [a-z0-9._-]: ${JSON.stringify(c.name)}`, { pointer: `${pointer}/name` });
  if (codePoints(c.version, 64) > 64) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, "capability version longer than 64", { pointer: `${pointer}/version` });
}

export function validateCapabilitySet(set: CapabilitySet | undefined, pointer: string): void {
  if (!set) return;
  for (const field of ["offered", "required", "optional"] as const) set[field].forEach((c, i) => validateCapability(c, `${pointer}/${field}/${i}`));
}

export function compareCapabilities(a: Capability, b: Capability): number {
  return compareText(a.name, b.name) || compareText(a.version, b.version);
}

/** An empty version on either side matches any version. */
export function capabilityMatches(want: Capability, have: Capability): boolean {
  return want.name === have.name && (!want.version || !have.version || want.version === have.version);
}

export function offers(offered: readonly Capability[], want: Capability): boolean {
  return offered.some((have) => capabilityMatches(want, have));
}

/** Sorted copy with exact duplicates removed. */
export function sortCapabilities(list: readonly Capability[]): Capability[] {
  const sorted = [...list].map((c) => capability(c.name, c.version)).sort(compareCapabilities);
  return sorted.filter((c, i) => i === 0 || compareCapabilities(c, sorted[i - 1]) !== 0);
}

/** Intersection of two offers; when one side leaves the version empty the concrete one is kept. */
export function sharedCapabilities(a: readonly Capability[], b: readonly Capability[]): Capability[] {
  const out: Capability[] = [];
  for (const x of a) {
    for (const y of b) {
      if (capabilityMatches(x, y)) out.push(capability(x.name, x.version || y.version));
    }
  }
  return sortCapabilities(out);
}

/** Our needs against the peer's offer. */
export function negotiate(ours: CapabilitySet | undefined, theirs: CapabilitySet | undefined): NegotiationResult {
  const o = ours ?? create(CapabilitySetSchema);
  const t = theirs ?? create(CapabilitySetSchema);
  const shared = sharedCapabilities(o.offered, t.offered);
  const missingRequired = sortCapabilities(o.required.filter((c) => !offers(t.offered, c)));
  const missingOptional = sortCapabilities(o.optional.filter((c) => !offers(t.offered, c)));
  const result: NegotiationResult = {
    shared,
    missingRequired,
    missingOptional,
    notices: missingOptional.map((c) => new FleetError(ErrorCode.CAPABILITY_NOT_SUPPORTED, `optional capability not offered: ${capabilityText(c)}`)),
  };
  if (missingRequired.length) {
    result.error = new FleetError(ErrorCode.CAPABILITY_REQUIRED, `required capabilities not offered: ${missingRequired.map(capabilityText).join(", ")}`);
  }
  return result;
}

/**
 * Both directions at once (the handshake's view): each side's requirements against the
 * other's offer. The first unmet requirement (ours, then theirs) is the error.
 */
export function negotiateMutual(ours: CapabilitySet | undefined, theirs: CapabilitySet | undefined): NegotiationResult {
  const mine = negotiate(ours, theirs);
  const peer = negotiate(theirs, ours);
  return {
    shared: mine.shared,
    missingRequired: sortCapabilities([...mine.missingRequired, ...peer.missingRequired]),
    missingOptional: mine.missingOptional,
    error: mine.error ?? peer.error,
    notices: mine.notices,
  };
}

/**
 * Answers a CapabilityExchange received mid-session. A reply is never answered (is_reply),
 * so two peers cannot ping-pong; a malformed exchange throws and changes nothing.
 */
export function answerCapabilityExchange(ours: CapabilitySet, exchange: CapabilityExchange): CapabilityExchange | undefined {
  if (!exchange.capabilities) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, "capability exchange without capabilities", { pointer: "/capabilities" });
  validateCapabilitySet(exchange.capabilities, "/capabilities");
  if (exchange.isReply) return undefined;
  // Their needs against our offer: what *we* lack is what the reply reports.
  const r = negotiate(exchange.capabilities, ours);
  return create(CapabilityExchangeSchema, {
    capabilities: ours,
    isReply: true,
    shared: r.shared,
    missingRequired: r.missingRequired,
    missingOptional: r.missingOptional,
  });
}
