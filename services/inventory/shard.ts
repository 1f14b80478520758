// Which SKUs this inventory replica may touch when inventory is split into shards (ADR 0105):
// those `shardOf` gives to its shard, the same function the callers route with. A call or an
// event line for another shard's SKU is refused or skipped, never stored here.
import { shardOf } from "@protomesh/clients";
import { FailedPreconditionError } from "@protomesh/server";
import type { StockStore } from "./stock.js";

export interface InventoryShard {
  /** This replica's shard (INVENTORY_SHARD). */
  name: string;
  /** Every shard (INVENTORY_SHARDS). */
  shards: readonly string[];
}

/** True when `sku` belongs to `shard`; every SKU belongs to an unsharded inventory. */
export function ownsSku(shard: InventoryShard | undefined, sku: string): boolean {
  return shard === undefined || shardOf(sku, shard.shards) === shard.name;
}

/** Throws FailedPrecondition naming the owning shard when a SKU is not this shard's. */
function requireOwned(shard: InventoryShard, skus: readonly string[]): void {
  const foreign = [...new Set(skus)].filter((sku) => !ownsSku(shard, sku));
  if (foreign.length === 0) return;
  const owners = foreign.map((sku) => `${sku} belongs to shard ${shardOf(sku, shard.shards)}`).join(", ");
  throw new FailedPreconditionError(`${owners}; this is shard ${shard.name}: send calls for a SKU to the shard that owns it`);
}

/** The stock store of one shard: the same store, refusing SKUs of other shards before reading or writing. */
export function shardStockStore(store: StockStore, shard: InventoryShard | undefined): StockStore {
  if (shard === undefined) return store;
  return {
    async getStock(sku) {
      requireOwned(shard, [sku]);
      return store.getStock(sku);
    },
    async quote(items, currencyCode) {
      requireOwned(shard, items.map((item) => item.sku));
      return store.quote(items, currencyCode);
    },
    async setStock(request) {
      requireOwned(shard, [request.sku]);
      return store.setStock(request);
    },
    async adjustStock(request) {
      requireOwned(shard, [request.sku]);
      return store.adjustStock(request);
    },
  };
}
