import { HealthCheckResponse_ServingStatus as ServingStatus } from "protomesh/gen/grpc/health/v1/health_pb";

/** Answers whether a dependency (database, NATS …) is usable now. Throwing counts as "no". */
export type ReadinessProbe = () => boolean | Promise<boolean>;

export interface HealthRegistryOptions {
  /** How often Watch re-runs the probes. Default: 5000 ms. */
  watchIntervalMs?: number;
  /** A probe slower than this counts as failed. Default: 2000 ms (Kubernetes' probe timeout is 1 s by default; set yours above it). */
  probeTimeoutMs?: number;
}

/**
 * Serving status of this process, driven by the probes the app registers. Every served service
 * shares the process's status: one pool, one broker connection. After shutdown() everything is
 * NOT_SERVING, so balancers drain the process before it closes.
 */
export class HealthRegistry {
  private readonly probes = new Map<string, ReadinessProbe>();
  private readonly services = new Set<string>([""]);
  private readonly watchIntervalMs: number;
  private readonly probeTimeoutMs: number;
  private evaluation: Promise<ServingStatus> | undefined;
  private shuttingDown = false;

  constructor(options: HealthRegistryOptions = {}) {
    this.watchIntervalMs = options.watchIntervalMs ?? 5000;
    this.probeTimeoutMs = options.probeTimeoutMs ?? 2000;
    for (const [key, value] of Object.entries({ watchIntervalMs: this.watchIntervalMs, probeTimeoutMs: this.probeTimeoutMs })) {
      if (!Number.isInteger(value) || value < 1) {
        throw new Error(`${key} must be a positive integer, got ${value}`);
      }
    }
  }

  /** Adds a readiness probe under a name (replacing one of the same name). */
  addProbe(name: string, probe: ReadinessProbe): void {
    this.probes.set(name, probe);
  }

  /** Makes a service name known to Check, Watch and List; "" (the whole server) always is. */
  addService(name: string): void {
    this.services.add(name);
  }

  get serviceNames(): readonly string[] {
    return [...this.services];
  }

  /** Marks everything NOT_SERVING for good: the process is going away. */
  shutdown(): void {
    this.shuttingDown = true;
  }

  /** Current status of a service, or undefined for a name this server does not serve. */
  async status(service: string): Promise<ServingStatus | undefined> {
    if (!this.services.has(service)) {
      return undefined;
    }
    return this.evaluate();
  }

  /** The status now and after every change, until the signal aborts. */
  async *watch(service: string, signal: AbortSignal): AsyncIterable<ServingStatus> {
    let last: ServingStatus | undefined;
    while (!signal.aborted) {
      const now = (await this.status(service)) ?? ServingStatus.SERVICE_UNKNOWN;
      if (now !== last) {
        last = now;
        yield now;
      }
      await sleep(this.watchIntervalMs, signal);
    }
  }

  // Concurrent checks share one run of the probes.
  private evaluate(): Promise<ServingStatus> {
    if (this.shuttingDown) {
      return Promise.resolve(ServingStatus.NOT_SERVING);
    }
    this.evaluation ??= this.runProbes().finally(() => {
      this.evaluation = undefined;
    });
    return this.evaluation;
  }

  private async runProbes(): Promise<ServingStatus> {
    const results = await Promise.all([...this.probes.values()].map((probe) => this.runProbe(probe)));
    return results.every(Boolean) && !this.shuttingDown ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  }

  private async runProbe(probe: ReadinessProbe): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.probeTimeoutMs);
    });
    try {
      return await Promise.race([Promise.resolve().then(probe), timeout]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
