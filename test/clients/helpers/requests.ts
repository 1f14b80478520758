// Hand-made Connect requests and responses, for driving one interceptor in a unit test.
import { create, type DescMethodUnary, type MessageInitShape } from "@bufbuild/protobuf";
import { createContextValues, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
// The toolkit's test-only contract: GetItem has no side effects, PutItem has no idempotency level.
import { ItemService } from "../../contract/gen/protomesh/test/v1/item_pb.js";

export const methods = ItemService.method;

export function unaryRequest<M extends DescMethodUnary>(
  method: M,
  message: MessageInitShape<M["input"]> = {} as MessageInitShape<M["input"]>,
  init: { header?: Record<string, string>; signal?: AbortSignal } = {},
): UnaryRequest {
  return {
    stream: false,
    service: method.parent,
    method,
    requestMethod: "POST",
    url: `http://items.example.org:443/${method.parent.typeName}/${method.name}`,
    signal: init.signal ?? new AbortController().signal,
    header: new Headers(init.header),
    contextValues: createContextValues(),
    message: create(method.input, message),
  };
}

export function unaryResponse(req: UnaryRequest): UnaryResponse {
  return {
    stream: false,
    service: req.service,
    method: req.method,
    header: new Headers(),
    trailer: new Headers(),
    message: create(req.method.output),
  };
}

/** Settles at once, so a rejection while fake timers run is not reported as unhandled. */
export function settle<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}
