// The typed-client toolkit: Connect clients over a client-side balancing transport with
// health checks, outlier ejection, retries, a retry budget, circuit breakers, deadlines and mTLS.

// Clients
export {
  createClient,
  createBalancedTransport,
  clientTransport,
  closeClient,
  resolverForTarget,
  type BalancedTransport,
} from "./create-client.js";
export type { ClientOptions, ResolvedClientOptions } from "./options.js";
export { resolveClientOptions } from "./options.js";
export type { TlsOptions } from "./tls/file-tls-source.js";
export { readPemFile, type PemContents } from "./tls/pem-file.js";

// Deadlines and their propagation
export { deadlineKey, currentDeadline, withDeadline, withIncomingDeadline } from "./deadline-context.js";

// Events for telemetry
export type { ClientEvent, ClientEventListener, EjectionReason } from "./events.js";
export type { EndpointSnapshot } from "./balancer/balancer.js";
export { clientTelemetryKey, type ClientTelemetry, type ObservedClient } from "./telemetry.js";

// Errors
export { CircuitOpenError, isCircuitOpenError, type Fallback } from "./interceptors/circuit-breaker.js";
export { CallNotSentError, isCallNotSentError, type NotSentReason } from "./balancer/call-not-sent-error.js";

// Extension points: resolvers and pickers
export type { Address, Subset } from "./balancer/address.js";
export type { Resolver, ResolverListener } from "./balancer/resolver/resolver.js";
export { StaticResolver } from "./balancer/resolver/static.js";
export { DnsResolver, type DnsResolverOptions, type LookupFn } from "./balancer/resolver/dns.js";
export { WeightedResolver, type WeightedSubset } from "./balancer/resolver/weighted.js";
export { watchWeightsFile, type WeightsFileOptions } from "./balancer/resolver/weights-file.js";
export { shardKeyInterceptor, type ShardRouting } from "./balancer/shard-key.js";
export { shardOf } from "./balancer/shard-hash.js";
export type { Picker, Pickable, PickerName } from "./balancer/picker/picker.js";
export { P2cPicker } from "./balancer/picker/p2c.js";
export { RoundRobinPicker } from "./balancer/picker/round-robin.js";
export { PickFirstPicker } from "./balancer/picker/pick-first.js";

// Building blocks, for composing a transport of your own
export { deadlineInterceptor, type DeadlineOptions } from "./interceptors/deadline.js";
export { retryInterceptor, type RetryOptions } from "./interceptors/retry.js";
export { circuitBreakerInterceptor, type CircuitBreakerOptions } from "./interceptors/circuit-breaker.js";
export { RetryBudget, type RetryBudgetOptions } from "./resilience/retry-budget.js";
export { CircuitBreaker, type BreakerState } from "./resilience/circuit-breaker.js";
