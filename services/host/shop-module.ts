// What every shop service's module may inject that no toolkit module provides: its logger and
// the shared Redis of caches and rate limits (ADR 0142).
import { type DynamicModule, Module } from "@nestjs/common";
import type { SharedRedis } from "@protomesh/cache";
import type { Logger } from "./logger.js";
import { LOGGER, SHARED_REDIS } from "./shop.tokens.js";

export interface ShopModuleOptions {
  logger: Logger;
  /**
   * The shared Redis of REDIS_URL; undefined, caches and limits fall back to the database and
   * local counters. The host opens and closes it, also when the app cannot be created.
   */
  redis: SharedRedis | undefined;
}

/** Global, as the messaging module is: one logger and one Redis per process, for every feature module. */
@Module({})
export class ShopModule {
  static forRoot({ logger, redis }: ShopModuleOptions): DynamicModule {
    return {
      module: ShopModule,
      global: true,
      providers: [
        { provide: LOGGER, useValue: logger },
        { provide: SHARED_REDIS, useValue: redis },
      ],
      exports: [LOGGER, SHARED_REDIS],
    };
  }
}
