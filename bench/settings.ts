/** What every benchmark takes from the command line. */
export interface BenchSettings {
  /** Seconds of load before the window opens (servers keep speeding up for seconds). */
  warmupS: number;
  /** Seconds of the measured window. */
  seconds: number;
  /** Calls in flight from the load generator. */
  concurrency: number;
}
