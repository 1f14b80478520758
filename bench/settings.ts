/** What every benchmark takes from the command line. */
export interface BenchSettings {
  /** Seconds of load before the window opens (servers keep speeding up for seconds). */
  warmupS: number;
  /** Seconds of the measured window. */
  seconds: number;
  /** Calls in flight from the load generator. */
  concurrency: number;
  /** Transactions in flight from the outbox writers (relay) and the pool they use. */
  writers: number;
  /** Offered load of the saga benchmark, orders/s; 0 derives it from the measured limit. */
  rate: number;
}
