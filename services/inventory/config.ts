import { env, parseEnv, serviceConfigSchema } from "../kit/config/index.js";

const schema = serviceConfigSchema(
  "inventory",
  50052,
  {
    /**
     * How long a cached stock item answers GetStock and QuoteItems without the database, when
     * REDIS_URL is set. Writes invalidate at once; this bounds a lost invalidation. Default 5 s.
     */
    STOCK_CACHE_TTL_MS: env.milliseconds(5_000),
  },
  (common, vars, addIssue) => {
    if (vars.STOCK_CACHE_TTL_MS < 1) addIssue("STOCK_CACHE_TTL_MS", "must be at least 1 ms");
    return { ...common, stockCacheTtlMs: vars.STOCK_CACHE_TTL_MS };
  },
);

export type InventoryConfig = ReturnType<typeof loadInventoryConfig>;

export function loadInventoryConfig(environment: Record<string, string | undefined> = process.env) {
  return parseEnv(schema, environment);
}
