import type * as http2 from "node:http2";
import { Http2SessionManager } from "@connectrpc/connect-node";
import type { IBackoffFactory } from "cockatiel";
import type { ClientEvents } from "../events.js";
import { CircuitBreaker } from "../resilience/circuit-breaker.js";
import { type Address, addressKey } from "./address.js";
import { ATTEMPT_HEADER, AttemptLedger } from "./attempt-ledger.js";
import { CallNotSentError } from "./call-not-sent-error.js";
import { openSocket, type TlsSource } from "./connection.js";
import { Endpoint } from "./endpoint.js";
import { ActiveHealthChecker, type ActiveHealthOptions } from "./health/active.js";
import type { Picker } from "./picker/picker.js";
import type { Resolver } from "./resolver/resolver.js";
import { SHARD_HEADER } from "./shard-key.js";
import { SubsetChooser } from "./subset-chooser.js";

export interface OutlierOptions {
  consecutiveFailures: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
  maxEjectionPercent: number;
}

export interface BalancerOptions {
  resolver: Resolver;
  picker: Picker;
  /** "host:port" sent as :authority (and the TLS server name unless `tls.serverName` says otherwise). */
  authority: string;
  tls: { source: TlsSource; serverName: string } | undefined;
  connectTimeoutMs: number;
  reconnectBackoff: IBackoffFactory<unknown>;
  keepalive: { pingIntervalMs: number; pingTimeoutMs: number; idleConnectionTimeoutMs: number };
  outlier: OutlierOptions;
  health: ActiveHealthOptions | undefined;
  events: ClientEvents;
}

/** What a balanced transport hands to connect-node: the session manager shape it accepts (its type is not exported). */
export interface BalancingSessionManager {
  readonly authority: string;
  request(
    method: string,
    path: string,
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal">,
  ): Promise<http2.ClientHttp2Stream>;
  notifyResponseByteRead(stream: http2.ClientHttp2Stream): void;
}

/** A read-only view of one endpoint, for tests and telemetry. */
export interface EndpointSnapshot {
  address: string;
  connectivity: Endpoint["connectivity"]["kind"];
  health: Endpoint["health"];
  circuit: ReturnType<CircuitBreaker["state"]>["kind"];
  admitted: boolean;
  outstanding: number;
  /** Calls (attempts) sent to it so far. */
  calls: number;
  /** Name of its weighted subset (e.g. "canary"), if the resolver reports subsets. */
  subset: string | undefined;
}

/**
 * Spreads calls over the endpoints a resolver reports: one Http2SessionManager per endpoint,
 * presented to connect-node as a single session manager whose origin is the logical host.
 */
export class Balancer {
  readonly ledger = new AttemptLedger();
  readonly sessionManager: BalancingSessionManager;
  readonly origin: string;
  private readonly endpoints = new Map<string, Endpoint>();
  private list: Endpoint[] = [];
  private readonly owners = new WeakMap<http2.ClientHttp2Stream, Endpoint>();
  private readonly health: ActiveHealthChecker | undefined;
  private readonly candidates: Endpoint[] = [];
  private readonly subsets = new SubsetChooser();
  private readyWaiters: (() => void)[] = [];
  private resolved: Promise<void>;
  private markResolved: () => void = () => undefined;
  private hasResolved = false;
  private closed = false;

  constructor(private readonly options: BalancerOptions) {
    this.origin = `${options.tls ? "https" : "http"}://${options.authority}`;
    this.health = options.health && new ActiveHealthChecker(options.health, this.origin, options.authority, () => this.canEject());
    this.resolved = new Promise((resolve) => (this.markResolved = resolve));
    this.sessionManager = {
      authority: new URL(this.origin).origin,
      request: (method, path, headers, opts) => this.request(method, path, headers, opts),
      notifyResponseByteRead: (stream) => this.owners.get(stream)?.session.notifyResponseByteRead(stream),
    };
    options.resolver.start({
      onUpdate: (addresses) => this.update(addresses),
      onError: (error) => options.events.emit({ type: "resolver-error", error }),
    });
  }

  snapshot(): EndpointSnapshot[] {
    return this.list.map((e) => ({
      address: e.key,
      connectivity: e.connectivity.kind,
      health: e.health,
      circuit: e.breaker.state().kind,
      admitted: e.isAdmitted,
      outstanding: e.load.outstanding,
      calls: e.load.started,
      subset: e.subset?.name,
    }));
  }

  /** Resolves once some endpoint is admitted, e.g. before the first call of a test or a warm-up. */
  ready(): Promise<void> {
    if (this.list.some((e) => e.isAdmitted)) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    // Calls still waiting for the first resolution wake up and are refused.
    this.markResolved();
    this.options.resolver.close();
    this.health?.close();
    for (const endpoint of this.list) {
      endpoint.close();
    }
    this.list = [];
    this.endpoints.clear();
  }

  /** Replaces every connection once idle, so new TLS material applies without failing calls. */
  recycleConnections(): void {
    for (const endpoint of this.list) {
      endpoint.recycle();
    }
  }

  private update(addresses: readonly Address[]): void {
    if (this.closed) {
      return;
    }
    this.hasResolved = true;
    this.markResolved();
    const next = new Map<string, Address>(addresses.map((a) => [addressKey(a), a]));
    for (const [key, endpoint] of this.endpoints) {
      if (!next.has(key)) {
        this.endpoints.delete(key);
        this.health?.unwatch(endpoint);
        endpoint.drain();
        this.options.events.emit({ type: "endpoint-removed", address: key });
      }
    }
    for (const [key, address] of next) {
      const existing = this.endpoints.get(key);
      if (existing !== undefined) {
        existing.subset = address.subset;
      } else {
        const endpoint = this.createEndpoint(address);
        this.endpoints.set(key, endpoint);
        this.health?.watch(endpoint);
        this.options.events.emit({ type: "endpoint-added", address: key });
        endpoint.connect();
      }
    }
    // Resolver order, which pick-first follows.
    this.list = [...next.keys()].map((key) => this.endpoints.get(key) as Endpoint);
  }

  private createEndpoint(address: Address): Endpoint {
    const { options } = this;
    const origin = `${options.tls ? "https" : "http"}://${addressKey(address)}`;
    return new Endpoint(address, {
      createSessionManager: (addr, onSocketClose) =>
        new Http2SessionManager(origin, options.keepalive, {
          createConnection: () =>
            openSocket(addr, {
              connectTimeoutMs: options.connectTimeoutMs,
              ...(options.tls ? { tls: options.tls } : {}),
              onClose: onSocketClose,
            }),
        }),
      reconnectBackoff: options.reconnectBackoff,
      healthRequired: options.health !== undefined,
      breaker: (endpoint) =>
        new CircuitBreaker({
          failureThreshold: options.outlier.consecutiveFailures,
          openMs: options.outlier.baseEjectionMs,
          maxOpenMs: options.outlier.maxEjectionMs,
          canOpen: () => this.canEject(),
          onTransition: () => endpoint.refreshAdmission(),
        }),
      onReady: (endpoint) => this.health?.checkNow(endpoint),
      onConnectionFailure: () => options.resolver.resolveNow(),
      onAdmission: (endpoint, admitted, reason) => {
        if (admitted) {
          if (endpoint.wasEverAdmitted) {
            options.events.emit({ type: "endpoint-readmitted", address: endpoint.key });
          }
          endpoint.wasEverAdmitted = true;
          const waiters = this.readyWaiters;
          this.readyWaiters = [];
          waiters.forEach((w) => w());
        } else if (endpoint.wasEverAdmitted && reason !== undefined) {
          const state = endpoint.breaker.state();
          options.events.emit({
            type: "endpoint-ejected",
            address: endpoint.key,
            reason,
            ...(reason === "consecutive-failures" && state.kind === "open" ? { durationMs: state.until - Date.now() } : {}),
          });
        }
      },
    });
  }

  /**
   * Outlier ejection (consecutive failures, unanswered health checks) never takes the last
   * admitted endpoint, nor more than maxEjectionPercent (but always allows one).
   */
  private canEject(): boolean {
    const total = this.list.length;
    const ejected = this.list.filter((e) => e.breaker.state().kind !== "closed" || e.health === "unresponsive").length;
    const admitted = this.list.filter((e) => e.isAdmitted).length;
    return admitted > 1 && (ejected === 0 || ejected + 1 <= (total * this.options.outlier.maxEjectionPercent) / 100);
  }

  private async request(
    method: string,
    path: string,
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal">,
  ): Promise<http2.ClientHttp2Stream> {
    const ledgerId = headers[ATTEMPT_HEADER];
    const record = typeof ledgerId === "string" ? this.ledger.get(ledgerId) : undefined;
    if (ledgerId !== undefined) {
      delete headers[ATTEMPT_HEADER];
    }
    const shard = headers[SHARD_HEADER];
    if (shard !== undefined) {
      delete headers[SHARD_HEADER];
    }
    this.refuseWhenClosed();
    if (!this.hasResolved) {
      // Like gRPC core, calls made before the first resolution wait for it (bounded by their deadline).
      await this.resolved;
      this.refuseWhenClosed();
    }
    const endpoint = this.pick(record?.tried, typeof shard === "string" ? shard : undefined);
    if (endpoint === undefined) {
      const where = typeof shard === "string" ? ` in shard ${shard}` : "";
      throw new CallNotSentError(`no endpoint of ${this.options.authority}${where} is available`, "no-endpoint");
    }
    record?.tried.push(endpoint.key);
    const probe = !endpoint.isAdmitted && endpoint.breaker.acquire() === "probe";
    headers[":authority"] = this.options.authority;
    const stream = await endpoint.request(method, path, headers, options, probe);
    this.owners.set(stream, endpoint);
    return stream;
  }

  // Like a closed grpc-java channel: Unavailable at once, never a wait for endpoints that will not come.
  private refuseWhenClosed(): void {
    if (this.closed) {
      throw new CallNotSentError(`the client of ${this.options.authority} is closed`, "client-closed");
    }
  }

  /** With a shard, only that shard's endpoints are candidates; without one, a weighted subset is chosen. */
  private pick(avoid: readonly string[] | undefined, shard: string | undefined): Endpoint | undefined {
    const candidates = this.candidates;
    candidates.length = 0;
    for (const e of this.list) {
      if (shard !== undefined && e.subset?.name !== shard) {
        continue;
      }
      if (e.isAdmitted || this.canProbe(e)) {
        candidates.push(e);
      }
    }
    if (avoid !== undefined && avoid.length > 0 && candidates.length > 1) {
      const others = candidates.filter((e) => !avoid.includes(e.key));
      if (others.length > 0) {
        candidates.length = 0;
        candidates.push(...others);
      }
    }
    if (candidates.length === 0) {
      // Nothing admitted yet (first connections still opening): take anything not known bad.
      for (const e of this.list) {
        if (shard !== undefined && e.subset?.name !== shard) {
          continue;
        }
        if (e.connectivity.kind !== "transient-failure" && !e.failsHealthChecks && e.breaker.state().kind !== "open") {
          candidates.push(e);
        }
      }
    }
    if (candidates.length === 0) {
      return undefined;
    }
    if (shard === undefined) {
      this.subsets.narrow(candidates);
    }
    const picked = this.options.picker.pick(candidates, performance.now());
    candidates.length = 0;
    return picked;
  }

  /** A half-open endpoint that is connected and serving may take one probe call. */
  private canProbe(e: Endpoint): boolean {
    if (e.connectivity.kind !== "ready" || e.failsHealthChecks) {
      return false;
    }
    const state = e.breaker.state();
    return state.kind === "half-open" && !state.probing;
  }
}
