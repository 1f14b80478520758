import "reflect-metadata";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { Controller } from "@nestjs/common";
import { EXCEPTION_FILTERS_METADATA, ROUTE_ARGS_METADATA } from "@nestjs/common/constants.js";
import { Ctx, MessagePattern, Payload } from "@nestjs/microservices";
import { ConnectExceptionFilter } from "./connect-exception-filter.js";
import { CONNECT_TRANSPORT } from "./connect-transport-id.js";
import { iterableToObservable } from "./observable-stream.js";

/** Where the decorator leaves the method descriptor for the transport (pattern extras). */
export const connectMethodExtra = "protomesh.connect.method";

/** The route of a method, as clients call it: "/acme.items.v1.ItemService/GetItem". */
export function procedureOf(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

/**
 * Makes a class the Nest controller of a generated service: every method of the descriptor
 * becomes a handler of ConnectTransport only, called as `(request, context: HandlerContext)`
 * through Nest's guards, interceptors, pipes and filters. The class must implement
 * `ServiceImpl<typeof Service>`, so a missing or mistyped method does not compile.
 *
 * Streaming methods keep their async-generator signature; Nest's pipeline sees them as
 * Observables, so interceptors can map, tap or catch each message.
 */
export function ConnectService<S extends DescService>(service: S) {
  return <C extends abstract new (...args: never[]) => ServiceImpl<S>>(target: C): void => {
    const prototype = target.prototype as Record<string, unknown>;
    for (const method of service.methods) {
      let descriptor = Object.getOwnPropertyDescriptor(prototype, method.localName);
      // The type requires every method; one missing here is a field or an arrow function,
      // which Nest cannot see (it scans the prototype) and would answer Unimplemented.
      if (descriptor === undefined || typeof descriptor.value !== "function") {
        throw new Error(`${target.name}.${method.localName} must be declared as a method for @ConnectService(${service.typeName})`);
      }
      if (method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming") {
        descriptor = { ...descriptor, value: asObservableMethod(descriptor.value as (...args: unknown[]) => AsyncIterable<unknown>) };
        Object.defineProperty(prototype, method.localName, descriptor);
      }
      addDefaultParams(target, prototype, method.localName);
      MessagePattern(procedureOf(method), CONNECT_TRANSPORT, { [connectMethodExtra]: method })(prototype, method.localName, descriptor);
    }
    // First in the class's list, so it runs after every filter the user declares.
    const filters = (Reflect.getMetadata(EXCEPTION_FILTERS_METADATA, target) as unknown[] | undefined) ?? [];
    Reflect.defineMetadata(EXCEPTION_FILTERS_METADATA, [new ConnectExceptionFilter(), ...filters], target);
    Controller()(target);
  };
}

// Nest hands handlers only the payload unless parameters are decorated: give index 0 the
// request and index 1 the HandlerContext, unless the user decorated them (e.g. with pipes).
function addDefaultParams(target: object, prototype: object, key: string): void {
  const declared = (Reflect.getMetadata(ROUTE_ARGS_METADATA, target, key) as Record<string, unknown> | undefined) ?? {};
  const taken = new Set(Object.keys(declared).map((k) => k.split(":")[1]));
  if (!taken.has("0")) Payload()(prototype, key, 0);
  if (!taken.has("1")) Ctx()(prototype, key, 1);
}

// Wraps a streaming method and carries over the metadata Nest decorators put on the original.
function asObservableMethod(original: (...args: unknown[]) => AsyncIterable<unknown>): (...args: unknown[]) => unknown {
  const wrapped = function (this: unknown, ...args: unknown[]) {
    return iterableToObservable(original.apply(this, args));
  };
  Object.defineProperty(wrapped, "name", { value: original.name });
  for (const key of Reflect.getMetadataKeys(original) as unknown[]) {
    Reflect.defineMetadata(key, Reflect.getMetadata(key, original), wrapped);
  }
  return wrapped;
}
