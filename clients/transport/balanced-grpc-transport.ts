import * as http2 from "node:http2";
import { create, type DescMessage, type DescMethodUnary, fromBinary, isMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  type Interceptor,
  type Transport,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { getAbortSignalReason } from "@connectrpc/connect/protocol";
import { findTrailerError, requestHeader, validateResponse } from "@connectrpc/connect/protocol-grpc";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { BalancingSessionManager } from "../balancer/balancer.js";
import { callContextValues } from "./call-context.js";
import { type CallDeadline, callDeadlineKey } from "./call-deadline.js";

export interface BalancedGrpcTransportOptions {
  baseUrl: string;
  sessionManager: BalancingSessionManager;
  interceptors: Interceptor[];
  /** Largest response message accepted, in bytes. */
  readMaxBytes?: number;
}

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, NGHTTP2_REFUSED_STREAM, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;
const DEFAULT_READ_MAX_BYTES = 0xffffffff;

/**
 * A gRPC transport over the balancer. Unary calls take a direct path on node:http2 (one
 * buffer out, chunks collected in, no async iterables); streaming calls go through
 * connect-node's gRPC transport. Both run the same interceptors; call options, signals and
 * deadlines behave as in Connect's own transports.
 */
export function createBalancedGrpcTransport(options: BalancedGrpcTransportOptions): Transport {
  const streaming = createGrpcTransport({ baseUrl: options.baseUrl, sessionManager: options.sessionManager, interceptors: options.interceptors });
  const readMaxBytes = options.readMaxBytes ?? DEFAULT_READ_MAX_BYTES;
  const sm = options.sessionManager;
  // Composed once; Connect's applyInterceptors does the same per call.
  const call = options.interceptors.reduceRight<UnaryFn>((next, interceptor) => interceptor(next as never) as UnaryFn, (req) => unary(sm, req, readMaxBytes));
  return {
    unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: Parameters<Transport["unary"]>[3],
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ): Promise<UnaryResponse<I, O>> {
      const timeout = timeoutMs !== undefined && timeoutMs > 0 ? timeoutMs : undefined;
      // One controller and at most one timer per call. Unlike Connect's runUnaryCall, the
      // controller is not aborted when the call succeeds: that costs a DOMException per call.
      const controller = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const onCallerAbort = () => controller.abort(ConnectError.from(getAbortSignalReason(signal as AbortSignal), Code.Canceled));
      const deadline: CallDeadline = {
        arm(ms, error) {
          clearTimeout(timer);
          timer = setTimeout(() => controller.abort(error()), ms);
        },
      };
      if (timeout !== undefined) {
        deadline.arm(timeout, () => new ConnectError("the operation timed out", Code.DeadlineExceeded));
      }
      if (signal !== undefined) {
        if (signal.aborted) {
          onCallerAbort();
        } else {
          signal.addEventListener("abort", onCallerAbort, { once: true });
        }
      }
      const values = callContextValues(contextValues).set(callDeadlineKey, deadline);
      const req: UnaryRequest<I, O> = {
        stream: false,
        service: method.parent,
        method,
        requestMethod: "POST",
        url: `${options.baseUrl}/${method.parent.typeName}/${method.name}`,
        signal: controller.signal,
        header: requestHeader(true, timeout, header),
        contextValues: values,
        message: isMessage(input, method.input) ? input : create(method.input, input),
      };
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onCallerAbort);
      };
      return (call(req as unknown as UnaryRequest) as Promise<UnaryResponse<I, O>>).then(
        (res) => {
          done();
          return res;
        },
        (error: unknown) => {
          done();
          throw controller.signal.aborted ? ConnectError.from(getAbortSignalReason(controller.signal), Code.Canceled) : ConnectError.from(error);
        },
      );
    },
    stream: (method, signal, timeoutMs, header, input, contextValues) =>
      streaming.stream(method, signal, timeoutMs, header, input, callContextValues(contextValues)),
  };
}

type UnaryFn = (req: UnaryRequest) => Promise<UnaryResponse>;

function unary<I extends DescMessage, O extends DescMessage>(sm: BalancingSessionManager, req: UnaryRequest<I, O>, readMaxBytes: number): Promise<UnaryResponse<I, O>> {
  const body = toBinary(req.method.input, req.message);
  const frame = Buffer.allocUnsafe(5 + body.length);
  frame[0] = 0;
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, 5);
  const headers: http2.OutgoingHttpHeaders = {};
  req.header.forEach((value, key) => {
    headers[key] = value;
  });
  const path = `/${req.method.parent.typeName}/${req.method.name}`;

  return new Promise<UnaryResponse<I, O>>((resolve, reject) => {
    const signal = req.signal;
    let stream: http2.ClientHttp2Stream | undefined;
    let settled = false;
    const settle = (error: ConnectError | undefined, res?: UnaryResponse<I, O>) => {
      if (settled) {
        return;
      }
      settled = true;
      signal.removeEventListener("abort", onAbort);
      if (error !== undefined) {
        reject(error);
      } else {
        resolve(res as UnaryResponse<I, O>);
      }
    };
    const onAbort = () => {
      const reason = ConnectError.from(getAbortSignalReason(signal), Code.Canceled);
      settle(reason);
      if (stream !== undefined && !stream.closed) {
        stream.close(reason.code === Code.Canceled ? NGHTTP2_CANCEL : NGHTTP2_INTERNAL_ERROR);
      }
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener("abort", onAbort);

    sm.request("POST", path, headers, {}).then(
      (s) => {
        stream = s;
        if (settled) {
          s.close(NGHTTP2_CANCEL);
          return;
        }
        let status = 0;
        let responseHeader: http2.IncomingHttpHeaders | undefined;
        let trailer: http2.IncomingHttpHeaders | undefined;
        const chunks: Buffer[] = [];
        let size = 0;
        s.on("response", (h) => {
          status = Number(h[":status"]);
          responseHeader = h;
        });
        s.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > readMaxBytes + 5) {
            settle(new ConnectError(`message size is larger than configured readMaxBytes ${readMaxBytes}`, Code.ResourceExhausted));
            s.close(NGHTTP2_CANCEL);
            return;
          }
          chunks.push(chunk);
          sm.notifyResponseByteRead(s);
        });
        s.on("trailers", (t: http2.IncomingHttpHeaders) => {
          trailer = t;
        });
        s.on("error", (e: Error) => settle(errorFromStream(e, s.rstCode)));
        s.on("close", () => {
          if (settled) {
            return;
          }
          try {
            settle(undefined, finish(req, status, responseHeader, trailer, chunks, size, s.rstCode));
          } catch (e) {
            settle(ConnectError.from(e));
          }
        });
        s.end(frame);
      },
      (e: unknown) => settle(ConnectError.from(e, Code.Unavailable)),
    );
  });
}

/**
 * Checks status and framing and decodes the message. The common case (HTTP 200, a gRPC proto
 * content type, grpc-status 0 in the trailers) is checked on Node's header objects; web Headers
 * are built only for errors, or when someone reads the response's header or trailer.
 */
function finish<I extends DescMessage, O extends DescMessage>(
  req: UnaryRequest<I, O>,
  status: number,
  rawHeader: http2.IncomingHttpHeaders | undefined,
  rawTrailer: http2.IncomingHttpHeaders | undefined,
  chunks: Buffer[],
  size: number,
  rstCode: number,
): UnaryResponse<I, O> {
  if (rawHeader === undefined) {
    throw errorFromReset(rstCode) ?? new ConnectError("stream closed before a response arrived", Code.Unavailable);
  }
  const contentType = rawHeader["content-type"];
  if (status !== 200 || (contentType !== "application/grpc" && contentType !== "application/grpc+proto") || rawHeader["grpc-status"] !== undefined) {
    const header = toWebHeaders(rawHeader);
    const { headerError } = validateResponse(status, header);
    if (headerError !== undefined) {
      throw headerError;
    }
    if (contentType !== "application/grpc" && contentType !== "application/grpc+proto") {
      throw new ConnectError(`unsupported content type ${contentType}`, Code.Internal);
    }
  }
  const trailers = rawTrailer ?? {};
  if (trailers["grpc-status"] !== "0" || trailers["grpc-status-details-bin"] !== undefined) {
    const trailer = toWebHeaders(trailers);
    const trailerError = findTrailerError(trailer);
    if (trailerError !== undefined) {
      toWebHeaders(rawHeader).forEach((value, key) => trailerError.metadata.append(key, value));
      throw trailerError;
    }
    if (!trailer.has("grpc-status")) {
      throw errorFromReset(rstCode) ?? new ConnectError("protocol error: missing status", Code.Internal);
    }
  }
  const data = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
  if (data.length < 5) {
    throw new ConnectError("protocol error: missing output message for unary method", Code.Unimplemented);
  }
  if ((data[0] as number) & 0b1) {
    throw new ConnectError("protocol error: received a compressed message, but none was negotiated", Code.Internal);
  }
  const length = data.readUInt32BE(1);
  if (data.length !== 5 + length) {
    throw new ConnectError("protocol error: received extra output message for unary method", Code.Unimplemented);
  }
  let header: Headers | undefined;
  let trailer: Headers | undefined;
  return {
    stream: false,
    service: req.service,
    method: req.method,
    message: fromBinary(req.method.output, data.subarray(5)),
    get header() {
      return (header ??= toWebHeaders(rawHeader));
    },
    get trailer() {
      return (trailer ??= toWebHeaders(trailers));
    },
  };
}

function toWebHeaders(h: http2.IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const key in h) {
    if (key.startsWith(":")) {
      continue;
    }
    const value = h[key];
    if (typeof value === "string") {
      out.append(key, value);
    } else if (Array.isArray(value)) {
      value.forEach((v) => out.append(key, v));
    }
  }
  return out;
}

/** The gRPC code for an HTTP/2 reset, as gRPC's PROTOCOL-HTTP2 maps them. */
function errorFromReset(rstCode: number): ConnectError | undefined {
  switch (rstCode) {
    case http2.constants.NGHTTP2_NO_ERROR:
      return undefined;
    case NGHTTP2_REFUSED_STREAM:
      return new ConnectError("stream refused by the server (REFUSED_STREAM)", Code.Unavailable);
    case NGHTTP2_CANCEL:
      return new ConnectError("stream cancelled (CANCEL)", Code.Canceled);
    case NGHTTP2_ENHANCE_YOUR_CALM:
      return new ConnectError("server asked to slow down (ENHANCE_YOUR_CALM)", Code.ResourceExhausted);
    default:
      return new ConnectError(`stream closed with HTTP/2 error code ${rstCode}`, Code.Internal);
  }
}

/** A stream error: a reset code when there is one, otherwise the connection went away (Unavailable). */
function errorFromStream(error: Error, rstCode: number): ConnectError {
  const reset = errorFromReset(rstCode);
  if (reset !== undefined && rstCode !== NGHTTP2_INTERNAL_ERROR) {
    return new ConnectError(reset.rawMessage, reset.code, undefined, undefined, error);
  }
  return new ConnectError(`connection lost: ${error.message}`, Code.Unavailable, undefined, undefined, error);
}
