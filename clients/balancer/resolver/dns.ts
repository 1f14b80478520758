import { lookup as dnsLookup } from "node:dns/promises";
import type { Address } from "../address.js";
import type { Resolver, ResolverListener } from "./resolver.js";

/** Returns every A and AAAA address of a host name. */
export type LookupFn = (host: string) => Promise<readonly string[]>;

export interface DnsResolverOptions {
  host: string;
  port: number;
  /** Re-resolve this often. Default 30 s (gRPC core re-resolves only on failure; we also poll, so scale-out is seen). */
  refreshIntervalMs?: number;
  /** `resolveNow` after a connection failure is ignored this soon after the last resolution. Default 1 s (gRPC core: 30 s min time between resolutions). */
  minResolveIntervalMs?: number;
  /** Default: `dns.promises.lookup(host, { all: true })`, so /etc/hosts applies as it does for any Node client. */
  lookup?: LookupFn;
}

const systemLookup: LookupFn = async (host) => (await dnsLookup(host, { all: true })).map((a) => a.address);

/** Resolves A/AAAA records periodically and on connection failure; a failed lookup keeps the last good set. */
export class DnsResolver implements Resolver {
  private listener: ResolverListener | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastResolveAt = Number.NEGATIVE_INFINITY;
  private inFlight = false;
  private readonly refreshIntervalMs: number;
  private readonly minResolveIntervalMs: number;
  private readonly lookup: LookupFn;

  constructor(private readonly options: DnsResolverOptions) {
    this.refreshIntervalMs = options.refreshIntervalMs ?? 30_000;
    this.minResolveIntervalMs = options.minResolveIntervalMs ?? 1_000;
    this.lookup = options.lookup ?? systemLookup;
  }

  start(listener: ResolverListener): void {
    this.listener = listener;
    this.resolve();
  }

  resolveNow(): void {
    if (Date.now() - this.lastResolveAt >= this.minResolveIntervalMs) {
      this.resolve();
    }
  }

  close(): void {
    this.listener = undefined;
    clearTimeout(this.timer);
  }

  private resolve(): void {
    if (this.inFlight || this.listener === undefined) {
      return;
    }
    this.inFlight = true;
    this.lastResolveAt = Date.now();
    clearTimeout(this.timer);
    this.lookup(this.options.host).then(
      (ips) => {
        const unique = [...new Set(ips)];
        this.listener?.onUpdate(unique.map((host): Address => ({ host, port: this.options.port })));
      },
      (error: unknown) => this.listener?.onError(error),
    ).finally(() => {
      this.inFlight = false;
      if (this.listener !== undefined) {
        this.timer = setTimeout(() => this.resolve(), this.refreshIntervalMs);
        this.timer.unref();
      }
    });
  }
}
