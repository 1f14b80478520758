// What every shop service's module may inject that no toolkit module provides: its logger and
// the shared Redis of caches and rate limits (ADR 0142).
import { type DynamicModule, Inject, Module, type OnApplicationShutdown } from "@nestjs/common";
import { connectSharedRedis, type SharedRedis } from "@protomesh/cache";
import type { Logger } from "./logger.js";
import { LOGGER, SHARED_REDIS } from "./shop.tokens.js";

export interface ShopModuleOptions {
  logger: Logger;
  /** REDIS_URL; unset, caches and limits fall back to the database and local counters. */
  redisUrl: string | undefined;
}

/** Closes the shared Redis once the app has stopped taking calls and events. */
class SharedRedisShutdown implements OnApplicationShutdown {
  constructor(@Inject(SHARED_REDIS) private readonly redis: SharedRedis | undefined) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis?.close();
  }
}

/** Global, as the messaging module is: one logger and one Redis per process, for every feature module. */
@Module({})
export class ShopModule {
  static forRoot({ logger, redisUrl }: ShopModuleOptions): DynamicModule {
    return {
      module: ShopModule,
      global: true,
      providers: [
        { provide: LOGGER, useValue: logger },
        {
          provide: SHARED_REDIS,
          useFactory: (): SharedRedis | undefined =>
            redisUrl === undefined
              ? undefined
              : connectSharedRedis(redisUrl, {
                  onError: (err, unreported) => logger.warn({ err, unreported }, "redis unavailable: caches and shared limits fall back to the database and local counters"),
                }),
        },
        SharedRedisShutdown,
      ],
      exports: [LOGGER, SHARED_REDIS],
    };
  }
}
