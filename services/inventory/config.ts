import { z } from "zod";
import { env, parseEnv, serviceConfigSchema } from "../config/index.js";

/** Shard names go into JetStream durable names (`<shard>_shop_orders_v1_OrderPlaced`). */
export const SHARD_NAME = /^[a-z0-9][a-z0-9-]*$/;

const schema = serviceConfigSchema(
  "inventory",
  50052,
  {
    /**
     * How long a cached stock item answers GetStock and QuoteItems without the database, when
     * REDIS_URL is set. Writes invalidate at once; this bounds a lost invalidation. Default 5 s.
     */
    STOCK_CACHE_TTL_MS: env.milliseconds(5_000),
    /** The shard this replica serves, e.g. inventory-1 (ADR 0105). Unset: inventory is not sharded. */
    INVENTORY_SHARD: z.string().optional(),
    /** Every shard, comma-separated, the same list in every inventory and orders replica. Required with INVENTORY_SHARD. */
    INVENTORY_SHARDS: env.list().optional(),
  },
  (common, vars, addIssue) => {
    if (vars.STOCK_CACHE_TTL_MS < 1) addIssue("STOCK_CACHE_TTL_MS", "must be at least 1 ms");
    const shard = vars.INVENTORY_SHARD;
    const shards = vars.INVENTORY_SHARDS;
    if ((shard === undefined) !== (shards === undefined)) addIssue(shard === undefined ? "INVENTORY_SHARD" : "INVENTORY_SHARDS", "set INVENTORY_SHARD and INVENTORY_SHARDS together, or neither");
    if (shards !== undefined) {
      if (shards.length === 0 || new Set(shards).size !== shards.length) addIssue("INVENTORY_SHARDS", "must list unique shard names");
      for (const name of shards) if (!SHARD_NAME.test(name)) addIssue("INVENTORY_SHARDS", `${JSON.stringify(name)} is not a shard name (lower-case letters, digits and '-')`);
      if (shard !== undefined && !shards.includes(shard)) addIssue("INVENTORY_SHARD", `${JSON.stringify(shard)} is not one of INVENTORY_SHARDS (${shards.join(",")})`);
    }
    return {
      ...common,
      stockCacheTtlMs: vars.STOCK_CACHE_TTL_MS,
      shard: shard === undefined || shards === undefined ? undefined : { name: shard, shards },
    };
  },
);

export type InventoryConfig = ReturnType<typeof loadInventoryConfig>;

export function loadInventoryConfig(environment: Record<string, string | undefined> = process.env) {
  return parseEnv(schema, environment);
}
