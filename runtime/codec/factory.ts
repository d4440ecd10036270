// Fresh messages on hot paths. create() walks the descriptor for every field of every
// message it makes; the generated zero constructors (generated/codec) return the same
// object from one literal, several times faster. Callers then assign complete values.
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { fastZeros } from "../../generated/codec/fleet/v1/fast.js";

/** A function returning what create(desc) returns, as fast as the generated code allows. */
export function zeroFactory<D extends DescMessage>(desc: D): () => MessageShape<D> {
  const zero = fastZeros[desc.typeName] as (() => MessageShape<D>) | undefined;
  return zero ?? (() => create(desc));
}
