import type { ServiceImpl } from "@connectrpc/connect";
import { ServerReflection as ServerReflectionV1 } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1Alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import type { ReflectionIndex } from "./reflection-index.js";

/** grpc.reflection.v1.ServerReflection: one answer per request on the bidi stream. */
export function createReflectionV1Service(index: ReflectionIndex): ServiceImpl<typeof ServerReflectionV1> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        yield { validHost: req.host, originalRequest: req, messageResponse: index.answer(req.messageRequest) };
      }
    },
  };
}

/** The same for grpc.reflection.v1alpha, which older grpcurl and buf curl fall back to. */
export function createReflectionV1AlphaService(index: ReflectionIndex): ServiceImpl<typeof ServerReflectionV1Alpha> {
  return {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) {
        yield { validHost: req.host, originalRequest: req, messageResponse: index.answer(req.messageRequest) };
      }
    },
  };
}

export { ServerReflectionV1, ServerReflectionV1Alpha };
