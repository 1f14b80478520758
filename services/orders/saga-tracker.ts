// Runs the deadline sweep on a timer in every replica (the sweep itself is replica-safe), and
// tells `onCancelled` which orders it cancelled once they are committed (cache invalidation).
import type { BeforeApplicationShutdown, OnApplicationBootstrap } from "@nestjs/common";
import type { Db } from "@protomesh/data";
import type { Logger } from "../host/logger.js";
import { cancelExpiredSagas } from "./saga.js";

export class SagaTracker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly intervalMs: number,
    private readonly logger: Logger,
    private readonly onCancelled: (orderIds: string[]) => Promise<void> = async () => undefined,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      // One sweep at a time per replica; a slow one skips the next tick.
      this.sweeping ??= cancelExpiredSagas(this.db)
        .then(async (cancelled) => {
          if (cancelled.length === 0) return;
          this.logger.info({ cancelled: cancelled.length }, "cancelled orders whose saga passed its deadline");
          await this.onCancelled(cancelled);
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
