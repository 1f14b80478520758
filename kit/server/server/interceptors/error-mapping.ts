import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { ConnectError, Interceptor, StreamResponse } from "@connectrpc/connect";
import { isUnexpected, toConnectError } from "../../errors/to-connect-error.js";

/** Receives every thrown value that had to become Internal, with the original as `cause`. */
export type UnexpectedErrorHandler = (error: ConnectError, procedure: string) => void;

/**
 * Outermost interceptor: whatever a handler or an inner interceptor throws, during the call or
 * while streaming, reaches the client through toConnectError, and accidents are reported.
 */
export function createErrorMappingInterceptor(onUnexpected: UnexpectedErrorHandler): Interceptor {
  return (next) => async (req) => {
    try {
      const res = await next(req);
      if (!res.stream) {
        return res;
      }
      return { ...res, message: mapStreamErrors(res.message, (error) => mapError(error, req, onUnexpected)) } satisfies StreamResponse;
    } catch (error) {
      throw mapError(error, req, onUnexpected);
    }
  };
}

function mapError(error: unknown, req: { service: DescService; method: DescMethod }, onUnexpected: UnexpectedErrorHandler): ConnectError {
  const mapped = toConnectError(error);
  // A ConnectError arrives as someone meant it (a parse failure, a downstream call); only
  // what had to be turned into Internal here is an accident worth reporting.
  if (mapped !== error && isUnexpected(mapped)) {
    onUnexpected(mapped, `${req.service.typeName}/${req.method.name}`);
  }
  return mapped;
}

async function* mapStreamErrors<T>(messages: AsyncIterable<T>, map: (error: unknown) => ConnectError): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error) {
    throw map(error);
  }
}
