import { constants, type IncomingHttpHeaders, type Http2SecureServer, type Http2Server, type ServerHttp2Session, type ServerHttp2Stream } from "node:http2";
import type { Socket } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { answerEarly } from "./early-response.js";
import { IdRegistry } from "./id-registry.js";
import type { ResolvedServerLimits } from "./server-limits.js";

/** How a call uses its stream, as far as the bounds care. */
export type CallShape = "unary" | "server_streaming" | "client_streaming" | "bidi_streaming";

/** Bytes of requests still arriving, shared by every call of one server. */
export interface RequestMemory {
  /** Reserves `bytes`; false (and nothing reserved) when that would pass the bound. */
  take(bytes: number): boolean;
  release(bytes: number): void;
  /** What a call answers when take() refused it. */
  readonly exhausted: ConnectError;
}

/** Enforces a server's ResolvedServerLimits on its connections and calls. */
export interface Admission {
  readonly requestMemory: RequestMemory;
  /**
   * Counts a new call against the bounds, or answers it with ResourceExhausted / Unavailable and
   * returns false. An admitted call is released when its stream closes.
   */
  admit(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, shape: CallShape | undefined): boolean;
  /**
   * Holds the request bytes of a call served outside the lean path against requestMemory until
   * its request has arrived; answers Unavailable past the bound.
   */
  holdRequestBytes(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void;
  /** Starts the request-timeout sweep (while the server listens). */
  start(): void;
  stop(): void;
}

/** One TCP connection: what it holds, found from its session and its streams. */
class Connection {
  /** The TCP socket ('connection'); for h2c Node announces the session first. */
  socket: Socket | undefined;
  session: ServerHttp2Session | undefined;
  calls = 0;
  streamingCalls = 0;
  /** Calls of this connection refused at a bound; see maxRefusalsPerConnection. */
  refusals = 0;
  /** Closed by the server for holding what others need; its calls are no longer counted. */
  shed = false;
  /** Came in past maxConnections with none idle to close: its calls are refused, then it is closed. */
  overLimit = false;
  caller: string | undefined;
}

/**
 * A connection whose calls were refused or shed this many times is closed with GOAWAY
 * ENHANCE_YOUR_CALM: each refusal costs the server a stream, and a client that keeps opening
 * streams past the bounds is attacking, not retrying (nghttp2 does the same for streams past
 * SETTINGS_MAX_CONCURRENT_STREAMS, Node's maxSessionRejectedStreams: 100).
 */
const maxRefusalsPerConnection = 100;

const connectionOf = Symbol("admission.connection");
const shapeOf = Symbol("admission.shape");
const sweepIdOf = Symbol("admission.sweepId");
const headersOf = Symbol("admission.headers");
const admittedAtOf = Symbol("admission.admittedAt");
type AdmittedSession = ServerHttp2Session & { [connectionOf]?: Connection };
type AdmittedStream = ServerHttp2Stream & {
  [connectionOf]?: Connection | undefined;
  [shapeOf]?: CallShape | undefined;
  [sweepIdOf]?: number;
  [headersOf]?: IncomingHttpHeaders;
  [admittedAtOf]?: number;
};

/**
 * Installs the connection bounds on `server` (count with eviction of idle connections, handshake
 * and idle timeouts) and returns the per-call admission. `callerOf` names a connection's caller
 * for the per-caller bound.
 */
export function createAdmission(
  server: Http2Server | Http2SecureServer,
  limits: ResolvedServerLimits,
  callerOf: (session: ServerHttp2Session) => string,
): Admission {
  // Insertion order is connection age: eviction takes the oldest idle one.
  const connections = new Map<string, Connection>();
  const streamingByCaller = new Map<string, number>();
  // Calls whose request must arrive within requestTimeoutMs, by a sweep id.
  const waiting = new IdRegistry<AdmittedStream>();
  let lastSweepId = 0;
  let calls = 0;
  let bufferedBytes = 0;
  let sweepTimer: NodeJS.Timeout | undefined;

  const keyOf = (socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }) => `${socket.remoteAddress}|${socket.remotePort}`;

  const connectionAt = (key: string): Connection => {
    let connection = connections.get(key);
    if (connection === undefined) {
      connection = new Connection();
      connections.set(key, connection);
    }
    return connection;
  };

  server.on("connection", (socket: Socket) => {
    const key = keyOf(socket);
    const connection = connectionAt(key);
    connection.socket = socket;
    socket.once("close", () => connections.delete(key));
    if (connections.size > limits.maxConnections) makeRoom(connection);
  });

  function makeRoom(newcomer: Connection): void {
    for (const connection of connections.values()) {
      if (connection !== newcomer && connection.calls === 0) {
        closeConnection(connection);
        return;
      }
    }
    // Refused at the HTTP/2 level rather than at TCP, so that its calls learn why (Unavailable).
    newcomer.overLimit = true;
  }

  // Nothing is in flight on it, so nothing is lost: the descriptor is freed at once (a graceful
  // close would wait for a peer that may never answer).
  function closeConnection(connection: Connection): void {
    if (connection.session === undefined) {
      connection.socket?.destroy();
    } else {
      connection.session.goaway(constants.NGHTTP2_NO_ERROR);
      connection.session.destroy();
    }
  }

  function countRefusal(connection: Connection): void {
    if (++connection.refusals === maxRefusalsPerConnection) shed(connection);
  }

  server.on("session", (session: AdmittedSession) => {
    const connection = connectionAt(keyOf(session.socket));
    connection.session = session;
    session[connectionOf] = connection;
    // The client's SETTINGS must follow its connection preface promptly, and a connection let in
    // past maxConnections only gets to hear why.
    const preface = setTimeout(() => session.destroy(), limits.handshakeTimeoutMs);
    if (connection.overLimit) setTimeout(() => session.destroy(), limits.handshakeTimeoutMs).unref();
    preface.unref();
    session.once("remoteSettings", () => clearTimeout(preface));
    session.once("close", () => clearTimeout(preface));
  });

  // Node calls this for a session (or an HTTP/1.1 socket) without traffic for idleTimeoutMs.
  server.setTimeout(limits.idleTimeoutMs);
  server.on("timeout", (target: ServerHttp2Session | Socket) => {
    const connection = (target as AdmittedSession)[connectionOf];
    if (connection === undefined) {
      (target as Socket).destroy();
    } else if (connection.calls === 0) {
      connection.session?.close();
    }
  });

  // Made once: an error's stack trace is most of what refusing a call would cost.
  const refusals = {
    closing: new ConnectError("the connection is closing", Code.Unavailable),
    tooManyConnections: new ConnectError(`the server has ${limits.maxConnections} connections, each with calls in flight (limits.maxConnections); retry later or on another replica`, Code.Unavailable),
    serverFull: new ConnectError(`the server has ${limits.maxConcurrentCalls} calls in flight (limits.maxConcurrentCalls); retry later or on another replica`, Code.Unavailable),
    connectionStreaming: new ConnectError(`this connection has ${limits.maxStreamingCallsPerConnection} streaming calls open (limits.maxStreamingCallsPerConnection)`, Code.ResourceExhausted),
    callerStreaming: new ConnectError(`this caller has ${limits.maxStreamingCallsPerCaller} streaming calls open (limits.maxStreamingCallsPerCaller)`, Code.ResourceExhausted),
    requestTimeout: new ConnectError(`the request did not arrive within ${limits.requestTimeoutMs} ms (limits.requestTimeoutMs)`, Code.DeadlineExceeded),
    requestMemory: new ConnectError(`the server holds ${limits.maxBufferedRequestBytes} bytes of requests (limits.maxBufferedRequestBytes); retry later`, Code.Unavailable),
  };

  function refuse(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, connection: Connection | undefined, error: ConnectError): false {
    answerEarly(stream, headers, error);
    if (connection !== undefined) countRefusal(connection);
    return false;
  }

  // At the call bound, the connection of the oldest call still waiting for its request is closed
  // to make room: a client that opens streams and sends nothing cannot crowd out callers whose
  // requests arrive. Closing its connection (one GOAWAY) costs far less than resetting its
  // streams one by one, each a write to the socket. Ids only grow and a call leaves `waiting`
  // once, so a cursor finds the oldest in amortised constant time.
  let oldestWaitingId = 1;
  function shedWaitingConnection(): boolean {
    for (; oldestWaitingId <= lastSweepId; oldestWaitingId++) {
      const stream = waiting.get(oldestWaitingId);
      if (stream === undefined) continue;
      waiting.delete(oldestWaitingId);
      const connection = stream[connectionOf];
      if (stream.readableEnded || stream.closed || connection === undefined || connection.shed) continue;
      shed(connection);
      if (calls < limits.maxConcurrentCalls) return true;
    }
    return false;
  }

  function shed(connection: Connection): void {
    // Its streams close on a later tick: count them out now, so the next call does not shed another.
    calls -= connection.calls;
    connection.calls = 0;
    connection.shed = true;
    connection.session?.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    connection.session?.destroy();
  }

  function sweep(): void {
    const now = Date.now();
    waiting.forEach((stream, id) => {
      if (stream.readableEnded || stream.closed) {
        waiting.delete(id);
      } else if (now - stream[admittedAtOf]! > limits.requestTimeoutMs) {
        waiting.delete(id);
        answerEarly(stream, stream[headersOf]!, refusals.requestTimeout);
      }
    });
  }

  const requestMemory: RequestMemory = {
    exhausted: refusals.requestMemory,
    take(bytes) {
      if (bufferedBytes + bytes > limits.maxBufferedRequestBytes) return false;
      bufferedBytes += bytes;
      return true;
    },
    release(bytes) {
      bufferedBytes -= bytes;
    },
  };

  return {
    requestMemory,
    admit(stream: AdmittedStream, headers, shape) {
      const connection = (stream.session as AdmittedSession | undefined)?.[connectionOf];
      if (connection === undefined) return refuse(stream, headers, undefined, refusals.closing);
      if (connection.overLimit) {
        refuse(stream, headers, connection, refusals.tooManyConnections);
        connection.session?.close();
        return false;
      }
      if (calls >= limits.maxConcurrentCalls && !shedWaitingConnection()) return refuse(stream, headers, connection, refusals.serverFull);
      const streaming = shape !== undefined && shape !== "unary";
      if (streaming) {
        if (connection.streamingCalls >= limits.maxStreamingCallsPerConnection) return refuse(stream, headers, connection, refusals.connectionStreaming);
        const caller = (connection.caller ??= callerOf(connection.session!));
        const byCaller = streamingByCaller.get(caller) ?? 0;
        if (byCaller >= limits.maxStreamingCallsPerCaller) return refuse(stream, headers, connection, refusals.callerStreaming);
        streamingByCaller.set(caller, byCaller + 1);
        connection.streamingCalls++;
      }
      calls++;
      connection.calls++;
      stream[connectionOf] = connection;
      stream[shapeOf] = shape;
      stream.on("close", onAdmittedClose);
      if (shape === "unary" || shape === "server_streaming") {
        const id = ++lastSweepId;
        stream[sweepIdOf] = id;
        stream[headersOf] = headers;
        stream[admittedAtOf] = Date.now();
        waiting.set(id, stream);
      }
      return true;
    },
    holdRequestBytes(stream, headers) {
      let held = 0;
      const onData = (chunk: Buffer): void => {
        if (!requestMemory.take(chunk.length)) {
          release();
          answerEarly(stream, headers, requestMemory.exhausted);
          return;
        }
        held += chunk.length;
      };
      const release = (): void => {
        stream.off("data", onData);
        requestMemory.release(held);
        held = 0;
      };
      stream.on("data", onData);
      stream.once("end", release);
      stream.once("close", release);
    },
    start() {
      sweepTimer ??= setInterval(sweep, Math.max(10, Math.min(1000, Math.floor(limits.requestTimeoutMs / 4))));
      sweepTimer.unref();
    },
    stop() {
      clearInterval(sweepTimer);
      sweepTimer = undefined;
    },
  };

  function onAdmittedClose(this: AdmittedStream): void {
    const connection = this[connectionOf];
    if (connection === undefined) return;
    this[connectionOf] = undefined;
    if (!connection.shed) {
      calls--;
      connection.calls--;
    }
    const id = this[sweepIdOf];
    if (id !== undefined) waiting.delete(id);
    if (this[shapeOf] !== undefined && this[shapeOf] !== "unary") {
      connection.streamingCalls--;
      const caller = connection.caller!;
      const left = (streamingByCaller.get(caller) ?? 1) - 1;
      if (left === 0) streamingByCaller.delete(caller);
      else streamingByCaller.set(caller, left);
    }
  }
}
