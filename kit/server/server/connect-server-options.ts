import type { ConnectError, Interceptor } from "@connectrpc/connect";
import type { AllowList } from "../tls/allow-list.js";
import type { ServerTlsOptions } from "../tls/server-tls.js";
import { HealthRegistry } from "../health/health-registry.js";
import type { UnexpectedErrorHandler } from "./interceptors/error-mapping.js";
import { resolveServerLimits, type ResolvedServerLimits, type ServerLimits } from "./server-limits.js";

/** How a ConnectServer listens and what it enforces. */
export interface ConnectServerOptions {
  /** Address to bind. Default: "0.0.0.0". */
  host?: string;
  /** TCP port; 0 picks a free one (see ConnectServer.address). Default: 50051. */
  port?: number;
  /** Serve TLS (and mTLS when a CA is given). Default: none, cleartext HTTP/2 (h2c). */
  tls?: ServerTlsOptions;
  /**
   * Largest request message accepted, compressed or not; larger ones fail with
   * ResourceExhausted. Default: 4 MiB (gRPC core: max_receive_message_length).
   */
  readMaxBytes?: number;
  /**
   * Largest response message sent; a larger one fails the call with ResourceExhausted.
   * Default: 4 MiB (gRPC core sends any size; a bound keeps a bug from flooding clients).
   */
  writeMaxBytes?: number;
  /**
   * On close, how long in-flight calls may run before their signals abort and connections are
   * destroyed. Default: 10000 ms (gRPC core: no bound unless the caller adds one).
   */
  shutdownTimeoutMs?: number;
  /** Callers allowed per service or method (needs tls with a CA). Default: none, no restriction. */
  allow?: AllowList;
  /**
   * Interceptors run for every call after authorization and validation, outermost first.
   * Default: none.
   */
  interceptors?: readonly Interceptor[];
  /**
   * Outermost interceptor of every call, before error mapping, authorization and validation:
   * where telemetry sees each call and the code it ends with (@protomesh/telemetry's
   * `serverInterceptor`). Default: none, so a server without telemetry pays nothing for it.
   */
  observe?: Interceptor;
  /** Serve grpc.reflection v1 and v1alpha. Default: true. */
  reflection?: boolean;
  /** Readiness behind grpc.health.v1. Default: a registry without probes (always SERVING). */
  health?: HealthRegistry;
  /** Receives errors that reached clients as Internal. Default: console.error with the cause. */
  onUnexpectedError?: UnexpectedErrorHandler;
  /** Receives failures to reload changed certificate files. Default: console.error. */
  onTlsReloadError?: (error: unknown) => void;
  /**
   * Keep each of this server's HTTP/2 sessions' streams in an IdRegistry instead of node:http2's
   * internal Map, whose replaced hash tables kept finished calls alive past young-generation
   * collections (ADR 120). Only this server's own sessions are changed, and only where the
   * internal shape is the one measured (Node 20-24); elsewhere nothing is. Default: true.
   */
  http2StreamRegistry?: boolean;
  /**
   * Bounds on connections, streams, time and memory that callers can make the server hold.
   * Default: every bound at its default (ServerLimits documents each).
   */
  limits?: ServerLimits;
}

export type ResolvedConnectServerOptions = Required<Omit<ConnectServerOptions, "tls" | "allow" | "observe" | "limits">> &
  Pick<ConnectServerOptions, "tls" | "allow" | "observe"> & { limits: ResolvedServerLimits };

const MiB = 1024 * 1024;

const logUnexpected: UnexpectedErrorHandler = (error: ConnectError, procedure: string) => {
  console.error(`${procedure} failed with ${error.rawMessage}`, error.cause);
};

/** The one place defaults are applied and options checked. */
export function resolveConnectServerOptions(options: ConnectServerOptions): ResolvedConnectServerOptions {
  const resolved: ResolvedConnectServerOptions = {
    host: options.host ?? "0.0.0.0",
    port: options.port ?? 50051,
    readMaxBytes: options.readMaxBytes ?? 4 * MiB,
    writeMaxBytes: options.writeMaxBytes ?? 4 * MiB,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? 10_000,
    interceptors: options.interceptors ?? [],
    reflection: options.reflection ?? true,
    health: options.health ?? new HealthRegistry(),
    onUnexpectedError: options.onUnexpectedError ?? logUnexpected,
    onTlsReloadError: options.onTlsReloadError ?? ((error: unknown) => console.error("reloading TLS files failed", error)),
    limits: resolveServerLimits(options.limits),
    http2StreamRegistry: options.http2StreamRegistry ?? true,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    ...(options.allow === undefined ? {} : { allow: options.allow }),
    ...(options.observe === undefined ? {} : { observe: options.observe }),
  };
  if (!Number.isInteger(resolved.port) || resolved.port < 0 || resolved.port > 65535) {
    throw new Error(`port must be an integer in 0..65535, got ${resolved.port}`);
  }
  for (const key of ["readMaxBytes", "writeMaxBytes"] as const) {
    // connect-es caps message sizes at 2^32 - 1 (the envelope's length field).
    if (!Number.isInteger(resolved[key]) || resolved[key] < 1 || resolved[key] > 0xffffffff) {
      throw new Error(`${key} must be an integer in 1..2^32-1, got ${resolved[key]}`);
    }
  }
  if (!Number.isInteger(resolved.shutdownTimeoutMs) || resolved.shutdownTimeoutMs < 0) {
    throw new Error(`shutdownTimeoutMs must be a non-negative integer, got ${resolved.shutdownTimeoutMs}`);
  }
  if (resolved.allow !== undefined && resolved.tls?.caFile === undefined) {
    throw new Error("allow needs tls with caFile: identities come from verified client certificates");
  }
  return resolved;
}
