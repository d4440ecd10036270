// Hybrid logical clock (Kulkarni et al.): versions that follow wall time but never go
// backwards and always exceed every version this replica has seen.
import { create } from "@bufbuild/protobuf";
import { type Hlc, HlcSchema } from "../../generated/proto/fleet/v1/registry_pb.js";
import type { Clock } from "../clock.js";
import { compareText } from "./bytes.js";

/** Total order: wall_ms, then logical, then node (UTF-8 bytes). */
export function compareHlc(a: Hlc, b: Hlc): number {
  if (a.wallMs !== b.wallMs) return a.wallMs < b.wallMs ? -1 : 1;
  return a.logical - b.logical || compareText(a.node, b.node);
}

/** Hlc.logical is a uint32. */
export const MAX_LOGICAL = 0xffff_ffff;

export class HybridClock {
  private wall = 0n;
  private logical = 0;

  constructor(
    readonly node: string,
    private readonly clock: Clock,
  ) {}

  /** A fresh version for a local write. */
  now(): Hlc {
    const physical = BigInt(this.clock.now());
    if (physical > this.wall) {
      this.wall = physical;
      this.logical = 0;
    } else if (this.logical >= MAX_LOGICAL) {
      // logical is a uint32: rather than wrap, move to the next millisecond.
      this.wall++;
      this.logical = 0;
    } else {
      this.logical++;
    }
    return create(HlcSchema, { wallMs: this.wall, logical: this.logical, node: this.node });
  }

  /** Folds in a version seen from elsewhere, so later local writes sort after it (the caller bounds remote wall times). */
  observe(remote: Hlc): void {
    if (remote.wallMs > this.wall) {
      this.wall = remote.wallMs;
      this.logical = remote.logical;
    } else if (remote.wallMs === this.wall && remote.logical > this.logical) {
      this.logical = remote.logical;
    }
  }
}
