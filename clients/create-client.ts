import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient as createConnectClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { ExponentialBackoff } from "cockatiel";
import { Balancer, type EndpointSnapshot } from "./balancer/balancer.js";
import { P2cPicker } from "./balancer/picker/p2c.js";
import { PickFirstPicker } from "./balancer/picker/pick-first.js";
import type { Picker } from "./balancer/picker/picker.js";
import { RoundRobinPicker } from "./balancer/picker/round-robin.js";
import { DnsResolver } from "./balancer/resolver/dns.js";
import type { Resolver } from "./balancer/resolver/resolver.js";
import { StaticResolver } from "./balancer/resolver/static.js";
import { ClientEvents } from "./events.js";
import { circuitBreakerInterceptor } from "./interceptors/circuit-breaker.js";
import { deadlineInterceptor } from "./interceptors/deadline.js";
import { retryInterceptor } from "./interceptors/retry.js";
import { type ClientOptions, type ResolvedClientOptions, resolveClientOptions, resolveTarget } from "./options.js";
import { attemptTelemetryInterceptor, callTelemetryInterceptor } from "./telemetry.js";
import { RetryBudget } from "./resilience/retry-budget.js";
import { FileTlsSource } from "./tls/file-tls-source.js";
import { createBalancedGrpcTransport } from "./transport/balanced-grpc-transport.js";

/** A Connect Transport over a balancer, with the resilience interceptors installed. */
export interface BalancedTransport extends Transport {
  readonly events: ClientEvents;
  /** Resolves once an endpoint is admitted (connected and, with health checks, SERVING). */
  ready(): Promise<void>;
  snapshot(): EndpointSnapshot[];
  /** Stops resolution, health checks and timers and closes every connection. */
  close(): void;
}

/**
 * Builds the balanced transport. Interceptor order, outermost first: telemetry of the call,
 * yours, deadline (one deadline for the whole call), circuit breaker (one outcome per call,
 * after retries), retry (each attempt re-picks an endpoint and gets the time left), telemetry
 * of each attempt. Both telemetry interceptors pass calls through unless the caller runs under
 * a service's telemetry (@protomesh/telemetry).
 */
export function createBalancedTransport(options: ClientOptions): BalancedTransport {
  const o = resolveClientOptions(options);
  const events = new ClientEvents();
  if (o.onEvent !== undefined) {
    events.on(o.onEvent);
  }
  const tlsSource =
    o.tls &&
    new FileTlsSource(o.tls, (error) => {
      if (error === undefined) {
        balancer.recycleConnections();
        events.emit({ type: "tls-reloaded" });
      } else {
        events.emit({ type: "tls-reload-failed", error });
      }
    });
  const balancer: Balancer = new Balancer({
    resolver: createResolver(o),
    picker: createPicker(o.loadBalancing),
    authority: o.authority,
    tls: tlsSource && { source: tlsSource, serverName: o.tls?.serverName ?? hostOf(o.authority) },
    connectTimeoutMs: o.connectTimeoutMs,
    reconnectBackoff: new ExponentialBackoff({
      initialDelay: o.reconnect.initialBackoffMs,
      maxDelay: o.reconnect.maxBackoffMs,
      exponent: o.reconnect.multiplier,
    }),
    keepalive: o.keepalive,
    outlier: o.outlierDetection,
    health: o.healthCheck,
    events,
  });
  const observed = { target: o.authority, events, snapshot: () => balancer.snapshot() };
  const interceptors: Interceptor[] = [callTelemetryInterceptor(observed), ...o.interceptors, deadlineInterceptor(o.deadlines)];
  if (o.circuitBreaker !== undefined) {
    interceptors.push(circuitBreakerInterceptor(o.circuitBreaker, events));
  }
  if (o.retry !== undefined) {
    interceptors.push(retryInterceptor(o.retry, { budget: new RetryBudget(o.retryBudget), events, ledger: balancer.ledger }));
  }
  interceptors.push(attemptTelemetryInterceptor);
  const transport = createBalancedGrpcTransport({
    baseUrl: balancer.origin,
    sessionManager: balancer.sessionManager,
    interceptors,
  });
  return {
    unary: (...args) => transport.unary(...args),
    stream: (...args) => transport.stream(...args),
    events,
    ready: () => balancer.ready(),
    snapshot: () => balancer.snapshot(),
    close: () => {
      balancer.close();
      tlsSource?.close();
    },
  };
}

const transports = new WeakMap<object, BalancedTransport>();

/** A Connect client for any generated service, over a balanced transport of its own. */
export function createClient<S extends DescService>(service: S, options: ClientOptions): Client<S> {
  const transport = createBalancedTransport(options);
  const client = createConnectClient(service, transport);
  transports.set(client, transport);
  return client;
}

/** The transport behind a client made by `createClient`: its events, endpoints and `close`. */
export function clientTransport(client: object): BalancedTransport {
  const transport = transports.get(client);
  if (transport === undefined) {
    throw new TypeError("not a client made by protomesh's createClient");
  }
  return transport;
}

/** Closes a client made by `createClient`; calls in flight fail. */
export function closeClient(client: object): void {
  clientTransport(client).close();
}


/**
 * The resolver a client makes of a `target` string or list: a host name is resolved and
 * re-resolved through DNS, IP addresses and lists are static. For composing resolvers, such as
 * the subsets of a WeightedResolver.
 */
export function resolverForTarget(target: string | readonly string[], dns: ResolvedClientOptions["dns"] = {}): Resolver {
  return createResolver({ target: resolveTarget(target), dns });
}

function createResolver(o: Pick<ResolvedClientOptions, "target" | "dns">): Resolver {
  switch (o.target.kind) {
    case "dns":
      return new DnsResolver({ host: o.target.host, port: o.target.port, ...o.dns });
    case "static":
      return new StaticResolver(o.target.addresses);
    case "custom":
      return o.target.resolver;
  }
}

function createPicker(choice: ResolvedClientOptions["loadBalancing"]): Picker {
  switch (choice) {
    case "p2c":
      return new P2cPicker();
    case "round-robin":
      return new RoundRobinPicker();
    case "pick-first":
      return new PickFirstPicker();
    default:
      return choice;
  }
}

function hostOf(authority: string): string {
  return authority.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
}
