import { readFileSync } from "node:fs";

/**
 * Bounds on what callers can make a server hold: connections, streams, time and memory. Every
 * bound has a default, so a server exposed to anyone is safe as created; docs/operations.md
 * says why each default is what it is. A call refused at a bound gets ResourceExhausted (its
 * caller's share is used up) or Unavailable (the server is full: another replica may serve it).
 */
export interface ServerLimits {
  /**
   * Open TCP connections. At the bound a new connection closes the longest-idle one (no call in
   * flight) to make room, or is itself closed when every connection is busy. Default: 1024, or the
   * process's open-file limit minus 128 when that is lower (Linux), so that connections cannot
   * take the descriptors the database and broker clients need. gRPC core: unlimited.
   */
  maxConnections?: number;
  /**
   * HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: calls open at once on one connection; the peer's
   * excess streams are refused (REFUSED_STREAM, which clients retry). Default: 100, the minimum
   * RFC 9113 recommends. gRPC core: unlimited.
   */
  maxStreamsPerConnection?: number;
  /** Calls open at once on the whole server; more answer Unavailable. Default: 10000. */
  maxConcurrentCalls?: number;
  /**
   * Streaming calls open at once on one connection, so that subscriptions (watches) leave room
   * for unary calls; more answer ResourceExhausted. Default: 50.
   */
  maxStreamingCallsPerConnection?: number;
  /**
   * Streaming calls open at once per caller: the verified peer identity with mTLS, else the
   * remote address. More answer ResourceExhausted. Default: 500.
   */
  maxStreamingCallsPerCaller?: number;
  /**
   * Request bytes held at once by calls still receiving a unary or server-streaming request
   * (each up to readMaxBytes); a call that would go past it answers Unavailable. Default:
   * 64 MiB. Streaming requests are bounded by HTTP/2 flow control instead.
   */
  maxBufferedRequestBytes?: number;
  /**
   * Time a new connection has to finish its TLS handshake and send the HTTP/2 preface and
   * SETTINGS; slower ones are closed. Default: 10000 ms (Node: 120 s for TLS, none for h2c).
   */
  handshakeTimeoutMs?: number;
  /**
   * A connection with no call in flight and no traffic for this long gets GOAWAY and is closed;
   * clients reconnect on their next call. Default: 300000 ms (gRPC core: max_connection_idle,
   * unlimited).
   */
  idleTimeoutMs?: number;
  /**
   * Time a unary or server-streaming call has to receive its whole request (END_STREAM);
   * slower calls answer DeadlineExceeded and their stream is reset. Default: 10000 ms.
   */
  requestTimeoutMs?: number;
}

export type ResolvedServerLimits = Readonly<Required<ServerLimits>>;

const MiB = 1024 * 1024;

/** The descriptors kept for everything but connections: stdio, the event loop, pools, files. */
const reservedDescriptors = 128;

/** Applies the defaults and checks every value; the one place that does. */
export function resolveServerLimits(limits: ServerLimits = {}): ResolvedServerLimits {
  const resolved: Required<ServerLimits> = {
    maxConnections: limits.maxConnections ?? defaultMaxConnections(),
    maxStreamsPerConnection: limits.maxStreamsPerConnection ?? 100,
    maxConcurrentCalls: limits.maxConcurrentCalls ?? 10_000,
    maxStreamingCallsPerConnection: limits.maxStreamingCallsPerConnection ?? 50,
    maxStreamingCallsPerCaller: limits.maxStreamingCallsPerCaller ?? 500,
    maxBufferedRequestBytes: limits.maxBufferedRequestBytes ?? 64 * MiB,
    handshakeTimeoutMs: limits.handshakeTimeoutMs ?? 10_000,
    idleTimeoutMs: limits.idleTimeoutMs ?? 300_000,
    requestTimeoutMs: limits.requestTimeoutMs ?? 10_000,
  };
  for (const [key, value] of Object.entries(resolved)) {
    // Node's timers and HTTP/2 settings take 31- and 32-bit values.
    if (!Number.isInteger(value) || value < 1 || value > 2 ** 31 - 1) {
      throw new Error(`limits.${key} must be an integer in 1..2^31-1, got ${value}`);
    }
  }
  return Object.freeze(resolved);
}

function defaultMaxConnections(): number {
  const openFiles = openFileLimit();
  return openFiles === undefined ? 1024 : Math.max(1, Math.min(1024, openFiles - reservedDescriptors));
}

/** The soft RLIMIT_NOFILE where the platform shows it (Linux), else undefined. */
function openFileLimit(): number | undefined {
  try {
    const line = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "latin1"));
    return line === null ? undefined : Number(line[1]);
  } catch {
    return undefined;
  }
}
