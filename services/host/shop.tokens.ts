/** DI tokens of what the shop gives every service module besides the toolkit's modules (shop-module.ts). */
/** The service's pino `Logger`: JSON lines with its name and the current trace. */
export const LOGGER = Symbol("shop.logger");
/** The `SharedRedis` of caches and shared limits when REDIS_URL is set, else `undefined`: an accelerator, never required. */
export const SHARED_REDIS = Symbol("shop.shared-redis");
