import { Code, type Interceptor } from "@connectrpc/connect";
import { type Address, addressKey, parseAddress } from "./balancer/address.js";
import type { OutlierOptions } from "./balancer/balancer.js";
import type { ActiveHealthOptions } from "./balancer/health/active.js";
import type { Picker, PickerName } from "./balancer/picker/picker.js";
import type { LookupFn } from "./balancer/resolver/dns.js";
import type { Resolver } from "./balancer/resolver/resolver.js";
import type { ClientEventListener } from "./events.js";
import type { CircuitBreakerOptions } from "./interceptors/circuit-breaker.js";
import type { DeadlineOptions } from "./interceptors/deadline.js";
import type { RetryOptions } from "./interceptors/retry.js";
import type { RetryBudgetOptions } from "./resilience/retry-budget.js";
import type { TlsOptions } from "./tls/file-tls-source.js";

/**
 * Everything a balanced client can be told. Every field is optional except `target`; the
 * defaults below are applied in one place, `resolveClientOptions`.
 */
export interface ClientOptions {
  /**
   * Where the service runs: "host:port" or gRPC's "dns:///host:port" (resolved through DNS, A and
   * AAAA, and re-resolved; an IP literal is used as is), a list of "host:port" (a static list), or
   * any Resolver.
   */
  target: string | readonly string[] | Resolver;
  /** Logical "host:port" sent as :authority and checked in the server certificate. Default: `target` when it is a string, else the first address. */
  authority?: string;
  /** "p2c" (default: power of two choices over peak EWMA), "round-robin", "pick-first" (gRPC core's default), or your own Picker. */
  loadBalancing?: PickerName | Picker;
  /** TLS or mTLS. Default: none (h2c, for a mesh or loopback). */
  tls?: TlsOptions;
  /** Time to open a connection, TCP and TLS. Default 20 s (gRPC core: the minimum connect timeout). */
  connectTimeoutMs?: number;
  /** Backoff between reconnects of one endpoint. Default 1 s growing ×1.6 to 120 s, jittered (gRPC core's connection backoff). */
  reconnect?: { initialBackoffMs?: number; maxBackoffMs?: number; multiplier?: number };
  /** HTTP/2 PINGs on connections with calls in flight. Default every 60 s, 20 s to answer (gRPC core: GRPC_ARG_KEEPALIVE_TIME_MS / _TIMEOUT_MS, off by default there); idle connections close after 15 min (GRPC_ARG_CLIENT_IDLE_TIMEOUT_MS). */
  keepalive?: { pingIntervalMs?: number; pingTimeoutMs?: number; idleConnectionTimeoutMs?: number };
  /** DNS re-resolution when `target` is a host name. Defaults in DnsResolverOptions (30 s refresh, 1 s minimum between resolutions). */
  dns?: { refreshIntervalMs?: number; minResolveIntervalMs?: number; lookup?: LookupFn };
  /** Active grpc.health.v1 checks. Default on: service "" (the whole server), every 5 s, 1 s timeout. `false` turns them off. */
  healthCheck?: false | Partial<ActiveHealthOptions>;
  /** Passive outlier ejection (a circuit per endpoint). Default: 5 consecutive failures eject for 30 s × ejections, at most 300 s, at most 50 % of endpoints and never the last (Envoy's and gRPC core's outlier_detection base/max ejection times). */
  outlierDetection?: Partial<OutlierOptions>;
  /** Retries. Default: 3 attempts, backoff bound 50 ms ×2 up to 1 s with full jitter, Unavailable only, no per-attempt timeout, header "idempotency-key". `false` turns them off. */
  retry?: false | Partial<RetryOptions>;
  /** Retry budget. Default: 10 % of calls plus 1 retry per second, over 10 s. */
  retryBudget?: RetryBudgetOptions;
  /** Circuit per method. Default: 5 consecutive failures (Unavailable, DeadlineExceeded, ResourceExhausted, Internal) open it for 10 s × openings, at most 60 s. `false` turns it off. */
  circuitBreaker?: false | Partial<CircuitBreakerOptions>;
  /** Deadlines. Default: 10 s for a call that has no deadline from its caller or context (gRPC core: none, which lets a call hang forever). */
  deadlines?: DeadlineOptions;
  /** Your interceptors, run outside ours (they see one call, not each attempt). */
  interceptors?: readonly Interceptor[];
  /** Listener for every state change (endpoints, circuits, retries, TLS reloads). */
  onEvent?: ClientEventListener;
}

/** ClientOptions with every default applied and every value checked. */
export interface ResolvedClientOptions {
  target: { kind: "dns"; host: string; port: number } | { kind: "static"; addresses: Address[] } | { kind: "custom"; resolver: Resolver };
  authority: string;
  loadBalancing: PickerName | Picker;
  tls: TlsOptions | undefined;
  connectTimeoutMs: number;
  reconnect: { initialBackoffMs: number; maxBackoffMs: number; multiplier: number };
  keepalive: { pingIntervalMs: number; pingTimeoutMs: number; idleConnectionTimeoutMs: number };
  dns: { refreshIntervalMs?: number; minResolveIntervalMs?: number; lookup?: LookupFn };
  healthCheck: ActiveHealthOptions | undefined;
  outlierDetection: OutlierOptions;
  retry: RetryOptions | undefined;
  retryBudget: RetryBudgetOptions;
  circuitBreaker: CircuitBreakerOptions | undefined;
  deadlines: DeadlineOptions;
  interceptors: readonly Interceptor[];
  onEvent: ClientEventListener | undefined;
}

export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  const target = resolveTarget(options.target);
  const authority =
    options.authority ??
    (typeof options.target === "string" ? withoutDnsScheme(options.target) : target.kind === "static" ? addressKey(target.addresses[0] as Address) : undefined);
  if (authority === undefined) {
    throw new TypeError("protomesh client: `authority` is required with a custom resolver");
  }
  parseAddress(authority);
  const resolved: ResolvedClientOptions = {
    target,
    authority,
    loadBalancing: options.loadBalancing ?? "p2c",
    tls: options.tls,
    connectTimeoutMs: options.connectTimeoutMs ?? 20_000,
    reconnect: { initialBackoffMs: 1_000, maxBackoffMs: 120_000, multiplier: 1.6, ...options.reconnect },
    keepalive: { pingIntervalMs: 60_000, pingTimeoutMs: 20_000, idleConnectionTimeoutMs: 15 * 60_000, ...options.keepalive },
    dns: options.dns ?? {},
    healthCheck: options.healthCheck === false ? undefined : { serviceName: "", intervalMs: 5_000, timeoutMs: 1_000, ...options.healthCheck },
    outlierDetection: { consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000, maxEjectionPercent: 50, ...options.outlierDetection },
    retry:
      options.retry === false
        ? undefined
        : {
            maxAttempts: 3,
            initialBackoffMs: 50,
            maxBackoffMs: 1_000,
            backoffMultiplier: 2,
            retryableCodes: [Code.Unavailable],
            perAttemptTimeoutMs: undefined,
            idempotencyHeader: "idempotency-key",
            ...options.retry,
          },
    retryBudget: options.retryBudget ?? {},
    circuitBreaker:
      options.circuitBreaker === false
        ? undefined
        : {
            failureThreshold: 5,
            openMs: 10_000,
            maxOpenMs: 60_000,
            failureCodes: [Code.Unavailable, Code.DeadlineExceeded, Code.ResourceExhausted, Code.Internal],
            ...options.circuitBreaker,
          },
    deadlines: { defaultTimeoutMs: 10_000, ...options.deadlines },
    interceptors: options.interceptors ?? [],
    onEvent: options.onEvent,
  };
  validate(resolved);
  return resolved;
}

export function resolveTarget(target: ClientOptions["target"]): ResolvedClientOptions["target"] {
  if (typeof target === "string") {
    const address = parseAddress(withoutDnsScheme(target));
    return /^[\d.]+$|:/.test(address.host) ? { kind: "static", addresses: [address] } : { kind: "dns", ...address };
  }
  if (Array.isArray(target)) {
    if (target.length === 0) {
      throw new TypeError("protomesh client: `target` lists no address");
    }
    return { kind: "static", addresses: (target as readonly string[]).map(parseAddress) };
  }
  return { kind: "custom", resolver: target as Resolver };
}

// gRPC's name syntax (grpc/doc/naming.md) for the system resolver; a DNS server of its own
// ("dns://8.8.8.8/host:port") is refused rather than silently ignored.
function withoutDnsScheme(target: string): string {
  if (!target.startsWith("dns:")) return target;
  if (!target.startsWith("dns:///")) {
    throw new TypeError(`invalid target "${target}": a DNS server of its own is not supported, write dns:///host:port`);
  }
  return target.slice("dns:///".length);
}

function validate(o: ResolvedClientOptions): void {
  const positive: [string, number | undefined][] = [
    ["connectTimeoutMs", o.connectTimeoutMs],
    ["reconnect.initialBackoffMs", o.reconnect.initialBackoffMs],
    ["reconnect.maxBackoffMs", o.reconnect.maxBackoffMs],
    ["keepalive.pingIntervalMs", o.keepalive.pingIntervalMs],
    ["keepalive.pingTimeoutMs", o.keepalive.pingTimeoutMs],
    ["outlierDetection.consecutiveFailures", o.outlierDetection.consecutiveFailures],
    ["outlierDetection.baseEjectionMs", o.outlierDetection.baseEjectionMs],
    ["healthCheck.intervalMs", o.healthCheck?.intervalMs],
    ["healthCheck.timeoutMs", o.healthCheck?.timeoutMs],
    ["retry.maxAttempts", o.retry?.maxAttempts],
    ["retry.perAttemptTimeoutMs", o.retry?.perAttemptTimeoutMs],
    ["circuitBreaker.failureThreshold", o.circuitBreaker?.failureThreshold],
    ["circuitBreaker.openMs", o.circuitBreaker?.openMs],
    ["deadlines.defaultTimeoutMs", o.deadlines.defaultTimeoutMs],
  ];
  for (const [name, value] of positive) {
    if (value !== undefined && !(value > 0 && Number.isFinite(value))) {
      throw new RangeError(`protomesh client: ${name} must be a positive number, got ${value}`);
    }
  }
  if (o.retry !== undefined && (o.retry.maxAttempts > 5 || !Number.isInteger(o.retry.maxAttempts))) {
    throw new RangeError("protomesh client: retry.maxAttempts must be an integer from 1 to 5 (as gRPC caps it)");
  }
  if (o.reconnect.multiplier < 1 || (o.retry !== undefined && o.retry.backoffMultiplier < 1)) {
    throw new RangeError("protomesh client: backoff multipliers must be at least 1");
  }
  if (o.outlierDetection.maxEjectionPercent < 0 || o.outlierDetection.maxEjectionPercent > 100) {
    throw new RangeError("protomesh client: outlierDetection.maxEjectionPercent must be within 0..100");
  }
  if ((o.tls?.ca !== undefined && o.tls.caFile !== undefined) || (o.tls?.cert !== undefined && o.tls.certFile !== undefined) || (o.tls?.key !== undefined && o.tls.keyFile !== undefined)) {
    throw new TypeError("protomesh client: give TLS material as PEM or as a file, not both");
  }
}
