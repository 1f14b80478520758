import { parseTimeout } from "@connectrpc/connect/protocol-grpc";

/** The gRPC request header that carries the time left; Connect sets it before interceptors run. */
export const GRPC_TIMEOUT = "grpc-timeout";

/** Milliseconds in a grpc-timeout header value, or undefined when absent or malformed. */
export function readGrpcTimeout(header: Headers): number | undefined {
  const parsed = parseTimeout(header.get(GRPC_TIMEOUT), Number.MAX_SAFE_INTEGER);
  return parsed.error === undefined ? parsed.timeoutMs : undefined;
}

/** Writes the time left, rounded up to whole milliseconds (the header allows at most 8 digits). */
export function writeGrpcTimeout(header: Headers, ms: number): void {
  const whole = Math.max(1, Math.ceil(ms));
  header.set(GRPC_TIMEOUT, whole < 1e8 ? `${whole}m` : `${Math.ceil(whole / 1000)}S`);
}
