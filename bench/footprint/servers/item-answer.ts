// What every footprint server answers: GetItem only; the other methods are not in the benchmark.
import { Code, ConnectError } from "@connectrpc/connect";

/** GetItem's answer, as a plain object both protobuf-es and proto-loader accept. */
export function itemAnswer(itemId: string): { item: { itemId: string; ownerId: string } } {
  return { item: { itemId, ownerId: "footprint" } };
}

export function unimplemented(): never {
  throw new ConnectError("not in the benchmark", Code.Unimplemented);
}
