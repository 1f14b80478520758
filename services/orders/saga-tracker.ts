// Runs the deadline sweep on a timer in every replica (the sweep itself is replica-safe).
import type { BeforeApplicationShutdown, OnApplicationBootstrap } from "@nestjs/common";
import type { Db } from "protomesh/kit/data";
import type { Logger } from "../kit/host/logger.js";
import { sweepExpiredSagas } from "./saga.js";

export class SagaTracker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      // One sweep at a time per replica; a slow one skips the next tick.
      this.sweeping ??= sweepExpiredSagas(this.db)
        .then((cancelled) => {
          if (cancelled > 0) this.logger.info({ cancelled }, "cancelled orders whose saga passed its deadline");
        })
        .catch((err: unknown) => this.logger.warn({ err }, "saga deadline sweep failed; retrying on the next tick"))
        .finally(() => (this.sweeping = undefined));
    }, this.intervalMs);
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }
}
