import { HealthCheckResponse_ServingStatus as ServingStatus } from "@protomesh/clients/health";

/** A probe's answer: yes or no, or no with the reason, which `onStatusChange` reports. */
export type ProbeResult = boolean | { readonly ready: boolean; readonly reason?: string };

/** Answers whether a dependency (database, NATS …) is usable now. Throwing counts as "no". */
export type ReadinessProbe = () => ProbeResult | Promise<ProbeResult>;

export interface ProbeOptions {
  /**
   * How long the probe must fail on every run before it turns the status NOT_SERVING, ms, so one
   * slow or failed run does not. Default 0: at once (for probes that wait out failures themselves).
   */
  notReadyAfterMs?: number;
}

export interface HealthRegistryOptions {
  /** How often Watch re-runs the probes. Default: 5000 ms. */
  watchIntervalMs?: number;
  /** A probe slower than this counts as failed. Default: 2000 ms (Kubernetes' probe timeout is 1 s by default; set yours above it). */
  probeTimeoutMs?: number;
  /** Called when a run of the probes changes the status (from SERVING at first), with each failing probe as "name: reason". Default: none. */
  onStatusChange?: (status: ServingStatus, failing: readonly string[]) => void;
}

interface RegisteredProbe {
  probe: ReadinessProbe;
  notReadyAfterMs: number;
  /** Since when every run has failed; undefined after a run that passed. */
  failingSince: number | undefined;
}

/**
 * Serving status of this process, driven by the probes the app registers. Every served service
 * shares the process's status: one pool, one broker connection. After shutdown() everything is
 * NOT_SERVING, so balancers drain the process before it closes.
 */
export class HealthRegistry {
  private readonly probes = new Map<string, RegisteredProbe>();
  private readonly services = new Set<string>([""]);
  private readonly watchIntervalMs: number;
  private readonly probeTimeoutMs: number;
  private readonly onStatusChange: (status: ServingStatus, failing: readonly string[]) => void;
  private evaluation: Promise<ServingStatus> | undefined;
  // Compared with each run's status for onStatusChange; a registry starts out serving.
  private lastStatus = ServingStatus.SERVING;
  private shuttingDown = false;

  constructor(options: HealthRegistryOptions = {}) {
    this.watchIntervalMs = options.watchIntervalMs ?? 5000;
    this.probeTimeoutMs = options.probeTimeoutMs ?? 2000;
    this.onStatusChange = options.onStatusChange ?? (() => undefined);
    for (const [key, value] of Object.entries({ watchIntervalMs: this.watchIntervalMs, probeTimeoutMs: this.probeTimeoutMs })) {
      if (!Number.isInteger(value) || value < 1) {
        throw new Error(`${key} must be a positive integer, got ${value}`);
      }
    }
  }

  /** Adds a readiness probe under a name (replacing one of the same name). */
  addProbe(name: string, probe: ReadinessProbe, options: ProbeOptions = {}): void {
    const notReadyAfterMs = options.notReadyAfterMs ?? 0;
    if (!Number.isInteger(notReadyAfterMs) || notReadyAfterMs < 0) {
      throw new Error(`probe ${name}: notReadyAfterMs must be a non-negative integer, got ${notReadyAfterMs}`);
    }
    this.probes.set(name, { probe, notReadyAfterMs, failingSince: undefined });
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
    const runs = await Promise.all([...this.probes.entries()].map(async ([name, registered]) => ({ name, registered, result: await this.runProbe(registered.probe) })));
    const now = Date.now();
    const failing: string[] = [];
    for (const { name, registered, result } of runs) {
      if (result.ready) {
        registered.failingSince = undefined;
        continue;
      }
      registered.failingSince ??= now;
      if (now - registered.failingSince >= registered.notReadyAfterMs) failing.push(`${name}: ${result.reason}`);
    }
    const status = failing.length === 0 && !this.shuttingDown ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    if (status !== this.lastStatus && !this.shuttingDown) {
      this.lastStatus = status;
      this.onStatusChange(status, failing);
    }
    return status;
  }

  private async runProbe(probe: ReadinessProbe): Promise<{ ready: boolean; reason: string }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<ProbeResult>((resolve) => {
      timer = setTimeout(() => resolve({ ready: false, reason: `no answer within ${this.probeTimeoutMs} ms` }), this.probeTimeoutMs);
    });
    try {
      const result = await Promise.race([Promise.resolve().then(probe), timeout]);
      return typeof result === "boolean" ? { ready: result, reason: "not ready" } : { ready: result.ready, reason: result.reason ?? "not ready" };
    } catch (err) {
      return { ready: false, reason: err instanceof Error ? err.message : String(err) };
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
