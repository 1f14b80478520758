import type { Address } from "../address.js";
import type { Resolver, ResolverListener } from "./resolver.js";

/** A fixed list of addresses that the owner may replace with `set`, e.g. from service discovery. */
export class StaticResolver implements Resolver {
  private listener: ResolverListener | undefined;
  private addresses: readonly Address[];

  constructor(addresses: readonly Address[]) {
    this.addresses = [...addresses];
  }

  start(listener: ResolverListener): void {
    this.listener = listener;
    const initial = this.addresses;
    queueMicrotask(() => this.listener?.onUpdate(initial));
  }

  /** Replaces the list; calls on removed addresses finish, new calls go to the new list. */
  set(addresses: readonly Address[]): void {
    this.addresses = [...addresses];
    this.listener?.onUpdate(this.addresses);
  }

  resolveNow(): void {}

  close(): void {
    this.listener = undefined;
  }
}
