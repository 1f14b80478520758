import { type Address, addressKey, type Subset } from "../address.js";
import type { Resolver, ResolverListener } from "./resolver.js";

/** One group of a WeightedResolver: its name, its share of the calls and where its addresses come from. */
export interface WeightedSubset {
  /** For example "stable" or "canary"; unique within the resolver. */
  name: string;
  /** Parts of the calls the subset receives, relative to the others' (90 and 10: 10 % to the second). 0: none while another subset is available. */
  weight: number;
  /** Usually a DnsResolver on the subset's own headless service, or a StaticResolver. */
  resolver: Resolver;
}

/**
 * Combines several resolvers into one whose addresses carry their subset's name and weight, so
 * the balancer gives each subset its weight's share of the calls (a canary weighted 10 against 90
 * receives 10 %, however many replicas each side has). `setWeights` shifts the shares at run
 * time, for promotion or rollback, without touching connections. An address reported by two
 * subsets belongs to the first.
 */
export class WeightedResolver implements Resolver {
  private readonly subsets: { name: string; weight: number; resolver: Resolver; addresses: readonly Address[] | undefined }[];
  private listener: ResolverListener | undefined;

  constructor(subsets: readonly WeightedSubset[]) {
    if (subsets.length === 0) {
      throw new TypeError("WeightedResolver: give at least one subset");
    }
    const names = new Set(subsets.map((s) => s.name));
    if (names.size !== subsets.length || names.has("")) {
      throw new TypeError(`WeightedResolver: subset names must be unique and non-empty, got ${JSON.stringify(subsets.map((s) => s.name))}`);
    }
    this.subsets = subsets.map((s) => ({ name: s.name, weight: s.weight, resolver: s.resolver, addresses: undefined }));
    checkWeights(this.subsets);
  }

  start(listener: ResolverListener): void {
    this.listener = listener;
    for (const subset of this.subsets) {
      subset.resolver.start({
        onUpdate: (addresses) => {
          subset.addresses = addresses;
          this.report();
        },
        onError: (error) => this.listener?.onError(error),
      });
    }
  }

  /** Changes the weights of the named subsets (others keep theirs) and reports at once. */
  setWeights(weights: Readonly<Record<string, number>>): void {
    const unknown = Object.keys(weights).filter((name) => !this.subsets.some((s) => s.name === name));
    if (unknown.length > 0) {
      throw new TypeError(`WeightedResolver: no subset named ${unknown.join(", ")}`);
    }
    checkWeights(this.subsets.map((s) => ({ name: s.name, weight: weights[s.name] ?? s.weight })));
    for (const subset of this.subsets) {
      subset.weight = weights[subset.name] ?? subset.weight;
    }
    this.report();
  }

  /** The current weights by subset name. */
  weights(): Record<string, number> {
    return Object.fromEntries(this.subsets.map((s) => [s.name, s.weight]));
  }

  resolveNow(): void {
    for (const subset of this.subsets) {
      subset.resolver.resolveNow();
    }
  }

  close(): void {
    this.listener = undefined;
    for (const subset of this.subsets) {
      subset.resolver.close();
    }
  }

  // Reports once any subset has addresses; the others join when they resolve.
  private report(): void {
    if (this.listener === undefined || this.subsets.every((s) => s.addresses === undefined)) {
      return;
    }
    const merged = new Map<string, Address>();
    for (const { name, weight, addresses } of this.subsets) {
      const subset: Subset = { name, weight };
      for (const address of addresses ?? []) {
        const key = addressKey(address);
        if (!merged.has(key)) {
          merged.set(key, { host: address.host, port: address.port, subset });
        }
      }
    }
    this.listener.onUpdate([...merged.values()]);
  }
}

function checkWeights(subsets: readonly { name: string; weight: number }[]): void {
  for (const { name, weight } of subsets) {
    if (!Number.isFinite(weight) || weight < 0) {
      throw new RangeError(`WeightedResolver: the weight of subset "${name}" must be a finite number >= 0, got ${weight}`);
    }
  }
  if (!subsets.some((s) => s.weight > 0)) {
    throw new RangeError("WeightedResolver: at least one subset needs a positive weight");
  }
}
