import http2 from "node:http2";
import { setMaxListeners } from "node:events";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { Code, ConnectError, createContextValues, type ContextValues, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createValidateInterceptor } from "@connectrpc/validate";
import { createValidator } from "@bufbuild/protovalidate";
import { createAllowListInterceptor, unknownAllowListKeys } from "../tls/allow-list.js";
import { peerIdentityKey, peerIdentityOf, type PeerIdentity, type PeerIdentityOptions } from "../tls/peer-identity.js";
import { loadServerTls } from "../tls/server-tls.js";
import { Health } from "@protomesh/clients/health";
import type { HealthRegistry } from "../health/health-registry.js";
import { createHealthService } from "../health/health-service.js";
import { ReflectionIndex } from "../reflection/reflection-index.js";
import {
  createReflectionV1AlphaService,
  createReflectionV1Service,
  ServerReflectionV1,
  ServerReflectionV1Alpha,
} from "../reflection/reflection-service.js";
import { resolveConnectServerOptions, type ConnectServerOptions } from "./connect-server-options.js";
import { createDeadlineInterceptor } from "./interceptors/deadline.js";
import { createErrorMappingInterceptor } from "./interceptors/error-mapping.js";
import { createGrpcUnaryFastPath, type InFlightCall } from "./grpc-unary-fast-path.js";
import { createRegexMatch } from "./regex-match.js";
import { IdRegistry, useIdRegistryForStreams } from "./id-registry.js";
import { bindService, type ServiceBinding } from "./service-binding.js";
import { createAdmission, type Admission, type CallShape } from "./admission.js";
import { answerEarly } from "./early-response.js";
import { withCallOutcomes } from "./call-outcomes.js";

/** Connect routers on one HTTP/2 port, speaking gRPC, gRPC-Web and Connect. */
export interface ConnectServer {
  readonly health: HealthRegistry;
  /** The underlying node:http2 server. */
  readonly httpServer: http2.Http2Server | http2.Http2SecureServer;
  /** Starts listening; resolves with the bound address (port 0 becomes a real port). */
  listen(): Promise<AddressInfo>;
  /**
   * Graceful stop: health turns NOT_SERVING, new connections are refused, open connections get
   * GOAWAY, in-flight calls run until shutdownTimeoutMs; then their signals abort (clients see
   * Unavailable) and the connections are destroyed. Safe to call more than once.
   */
  close(): Promise<void>;
}

// After aborting handlers at the shutdown bound, time for their error trailers to be written.
const abortFlushMs = 250;

export function createConnectServer(bindings: readonly ServiceBinding[], options: ConnectServerOptions = {}): ConnectServer {
  const opts = resolveConnectServerOptions(options);
  const builtIn = [Health, ...(opts.reflection ? [ServerReflectionV1, ServerReflectionV1Alpha] : [])];
  const procedures = new Set(
    [...bindings.map((b) => b.service), ...builtIn].flatMap((s) => [s.typeName, ...s.methods.map((m) => `${s.typeName}/${m.name}`)]),
  );
  if (opts.allow !== undefined) {
    const unknown = unknownAllowListKeys(opts.allow, procedures);
    if (unknown.length > 0) {
      throw new Error(`allow names no served service or method: ${unknown.join(", ")}`);
    }
  }
  const health = opts.health;
  bindings.forEach((b) => health.addService(b.service.typeName));
  const reflection = opts.reflection ? new ReflectionIndex([...bindings.map((b) => b.service), ...builtIn]) : undefined;
  const tls = opts.tls === undefined ? undefined : loadServerTls(opts.tls);
  const shutdown = new AbortController();
  // Every in-flight call listens on this signal; many listeners are expected, not a leak.
  setMaxListeners(0, shutdown.signal);

  const errorMapping = createErrorMappingInterceptor(opts.onUnexpectedError);
  const observe = opts.observe === undefined ? [] : [opts.observe];
  const enforcement: Interceptor[] = [
    ...(opts.allow === undefined ? [] : [createAllowListInterceptor(opts.allow)]),
    createValidateInterceptor({ validator: createValidator({ regexMatch: createRegexMatch() }) }),
    ...opts.interceptors,
  ];
  const served: ServiceBinding[] = [
    ...bindings,
    bindService(Health, createHealthService(health)),
    ...(reflection === undefined
      ? []
      : [bindService(ServerReflectionV1, createReflectionV1Service(reflection)), bindService(ServerReflectionV1Alpha, createReflectionV1AlphaService(reflection))]),
  ];
  const peerOf = tls === undefined ? undefined : verifiedPeers({ identityFromCommonName: opts.tls?.identityFromCommonName ?? false });
  const peerValues = peerOf === undefined ? undefined : (socket: TLSSocket) => peerContextValues(peerOf(socket));
  const handler = connectNodeAdapter({
    routes(router) {
      for (const binding of served) {
        router.service(binding.service, binding.impl);
      }
      router.handlers.splice(0, router.handlers.length, ...router.handlers.map((h) => withCallOutcomes(h, opts.onUnexpectedError)));
    },
    readMaxBytes: opts.readMaxBytes,
    writeMaxBytes: opts.writeMaxBytes,
    shutdownSignal: shutdown.signal,
    interceptors: [...observe, errorMapping, createDeadlineInterceptor(), ...enforcement],
    // The session's socket, not the request's: Node makes a new proxy socket for each request's
    // stream, so keyed by that the per-connection cache below would read the certificate per call.
    ...(peerValues === undefined ? {} : { contextValues: (req) => peerValues(sessionSocketOf(req)) }),
  });
  const { limits } = opts;
  const settings = { maxConcurrentStreams: limits.maxStreamsPerConnection };
  const httpServer =
    tls === undefined
      ? http2.createServer({ settings })
      : // HTTP/1.1 is allowed over TLS for gRPC-Web and Connect from browsers.
        http2.createSecureServer({ ...tls.serverOptions, allowHTTP1: true, settings, handshakeTimeout: limits.handshakeTimeoutMs });
  // The per-caller bounds count by verified identity with mTLS, else by remote address (so
  // clients behind one proxy count as one caller).
  const admission = createAdmission(httpServer, limits, (session) => peerOf?.(session.socket as TLSSocket)?.id ?? session.socket.remoteAddress ?? "unknown");
  const inFlight = new IdRegistry<InFlightCall>();
  const fastPath = createGrpcUnaryFastPath(served, {
    interceptors: [...observe, errorMapping, ...enforcement],
    readMaxBytes: opts.readMaxBytes,
    writeMaxBytes: opts.writeMaxBytes,
    inFlight,
    requestMemory: admission.requestMemory,
    onUnexpectedError: opts.onUnexpectedError,
    ...(peerValues === undefined ? {} : { contextValues: (stream: http2.ServerHttp2Stream) => peerValues(stream.session?.socket as TLSSocket) }),
  });
  routeStreams(httpServer, dropUnreachableDeadline(handler), fastPath, admission, callShapes(served));
  const sessions = new Set<http2.ServerHttp2Session>();
  // Feature-detected on the first session: where node:http2's internal shape is not the one
  // measured, no session is touched (ADR 120, 127).
  let streamRegistry = opts.http2StreamRegistry;
  httpServer.on("session", (session: http2.ServerHttp2Session) => {
    if (streamRegistry) streamRegistry = useIdRegistryForStreams(session);
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
    // A peer sending garbage ends its own session; it must never reach the process.
    session.on("error", () => {});
  });
  let stopWatching = (): void => {};
  let closing: Promise<void> | undefined;

  return {
    health,
    httpServer,
    async listen() {
      await new Promise<void>((resolve, reject) => {
        httpServer.once("error", reject);
        httpServer.listen(opts.port, opts.host, () => {
          httpServer.off("error", reject);
          resolve();
        });
      });
      if (tls !== undefined) {
        stopWatching = tls.watch(httpServer as http2.Http2SecureServer, opts.onTlsReloadError);
      }
      admission.start();
      return httpServer.address() as AddressInfo;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        health.shutdown();
        stopWatching();
        admission.stop();
        if (!httpServer.listening) {
          resolve();
          return;
        }
        let destroyTimer: NodeJS.Timeout | undefined;
        const abortTimer = setTimeout(() => {
          const reason = new ConnectError("the server is shutting down", Code.Unavailable);
          shutdown.abort(reason);
          inFlight.forEach((call) => call.fail(reason));
          destroyTimer = setTimeout(() => sessions.forEach((session) => session.destroy()), abortFlushMs);
        }, opts.shutdownTimeoutMs);
        httpServer.close(() => {
          clearTimeout(abortTimer);
          clearTimeout(destroyTimer);
          resolve();
        });
        sessions.forEach((session) => session.close());
      });
      return closing;
    },
  };
}

// Node timers overflow past 2^31-1 ms (about 24 days) and fire at once, so a legal but huge
// grpc-timeout (up to 99999999 hours) would expire immediately. Such a deadline is no deadline.
function dropUnreachableDeadline<Req extends { headers: Record<string, unknown> }, Res>(
  handler: (req: Req, res: Res) => void,
): (req: Req, res: Res) => void {
  return (req, res) => {
    const timeout = req.headers["grpc-timeout"];
    if (typeof timeout === "string" && isUnreachable(timeout)) {
      delete req.headers["grpc-timeout"];
    }
    handler(req, res);
  };
}

const timeoutUnitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

function isUnreachable(timeout: string): boolean {
  const unit = timeoutUnitMs[timeout.slice(-1)];
  return unit !== undefined && Number(timeout.slice(0, -1)) * unit > 2 ** 31 - 1;
}

/** Each served procedure's path ("/pkg.Service/Method") and how its call uses the stream. */
function callShapes(served: readonly ServiceBinding[]): Map<string, CallShape> {
  return new Map(served.flatMap(({ service }) => service.methods.map((method) => [`/${service.typeName}/${method.name}`, method.methodKind] as const)));
}

function pathOnly(path: string | undefined): string {
  if (path === undefined) return "";
  const query = path.indexOf("?");
  return query < 0 ? path : path.slice(0, query);
}

// Every call passes admission first (the server's bounds). Unary gRPC calls then take the fast
// path; everything else reaches connect-node through Node's compatibility layer, which the
// 'request' listener installs as a 'stream' listener. gRPC calls to a method nobody serves are
// answered Unimplemented here: connect-node's fallback answers HTTP 404, which gRPC clients
// report without the status they expect.
function routeStreams(
  server: http2.Http2Server | http2.Http2SecureServer,
  handler: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  fastPath: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean,
  admission: Admission,
  shapes: ReadonlyMap<string, CallShape>,
): void {
  server.on("request", handler);
  const compat = server.listeners("stream");
  if (compat.length !== 1) {
    throw new Error(`expected Node's compatibility stream listener, found ${compat.length} listeners`);
  }
  const toCompat = compat[0] as (...args: unknown[]) => void;
  server.removeListener("stream", toCompat);
  // Node's 'stream' arguments spelled out: a rest parameter would be an array per call.
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
    const path = pathOnly(headers[":path"]);
    const shape = shapes.get(path);
    if (shape === undefined && headers["content-type"]?.startsWith("application/grpc")) {
      answerEarly(stream, headers, new ConnectError(`${path} is not a method this server serves`, Code.Unimplemented));
      return;
    }
    if (!admission.admit(stream, headers, shape) || fastPath(stream, headers)) return;
    if (shape === "unary" || shape === "server_streaming") admission.holdRequestBytes(stream, headers);
    toCompat.call(server, stream, headers, flags, rawHeaders);
  });
}

/** An HTTP/2 request's connection socket (an HTTP/1.1 request's socket is its connection's). */
function sessionSocketOf(req: { readonly socket: unknown; readonly stream?: http2.ServerHttp2Stream }): TLSSocket {
  return (req.stream?.session?.socket ?? req.socket) as TLSSocket;
}

// The verified client certificate is read once per connection, not once per call.
function verifiedPeers(options: PeerIdentityOptions): (socket: TLSSocket) => PeerIdentity | undefined {
  const bySocket = new WeakMap<object, PeerIdentity | null>();
  return (socket) => {
    let peer = bySocket.get(socket);
    if (peer === undefined) {
      peer = peerIdentityOf(socket, options) ?? null;
      bySocket.set(socket, peer);
    }
    return peer ?? undefined;
  };
}

function peerContextValues(peer: PeerIdentity | undefined): ContextValues {
  const values = createContextValues();
  if (peer !== undefined) {
    values.set(peerIdentityKey, peer);
  }
  return values;
}
