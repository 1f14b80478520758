/** What every benchmark takes from the command line. */
export interface BenchSettings {
  /** Seconds of load before the window opens (servers keep speeding up for seconds). */
  warmupS: number;
  /**
   * Seconds of load before the saga benchmark's first window. Longer than `warmupS`: at tens of
   * sagas/s each code path of a service runs too seldom for V8 to optimize it soon, and after 5 s a
   * saga costs the services 1.3-1.7× what it costs after 60 s (docs/benchmarks.md).
   */
  sagaWarmupS: number;
  /** Seconds of the measured window. */
  seconds: number;
  /** Calls in flight from the load generator. */
  concurrency: number;
  /**
   * Calls in flight in the tail benchmark. Below the load generator's saturation: at 64 on two
   * cores the generator's own queueing puts every healthy replica's p99 at about 4× its p50, and
   * a tail benchmark would then measure the generator, not how well a balancer avoids a slow
   * replica (docs/benchmarks.md has both).
   */
  tailConcurrency: number;
  /** Transactions in flight from the outbox writers (relay) and the pool they use. */
  writers: number;
  /** Offered load of the saga benchmark, orders/s; 0 runs the sweep of `rates`. */
  rate: number;
  /** Offered loads of the saga benchmark's sweep, orders/s, each a phase on the same services. */
  rates: readonly number[];
  /**
   * Rounds of the rpc benchmark. Each round runs every variant once, odd rounds in reverse
   * order, so a host that speeds up or slows down during the run weighs on both ends alike; the
   * summary gives each variant's median over the rounds and the median of its per-round ratios.
   */
  rounds: number;
  /** The rpc variants to run (all when empty), e.g. nest-connect and its anchor only. */
  only: readonly string[];
}
