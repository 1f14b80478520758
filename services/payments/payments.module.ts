// The payments service as a Nest module: its RPCs, its saga handlers and the use cases behind
// them, on the database ProtomeshMessagingModule opened.
import { type DynamicModule, Module } from "@nestjs/common";
import type { Database } from "@protomesh/data";
import { MESSAGING_DATABASE } from "@protomesh/messaging/nest";
import { createChargeHandlers, createPaymentReads } from "./charges.js";
import type { PaymentsConfig } from "./config.js";
import { createPaymentSimulator } from "./domain/payment-simulator.js";
import { PaymentsController } from "./payments.controller.js";
import { PaymentsEvents } from "./payments.events.js";
import { CHARGE_HANDLERS, PAYMENT_READS } from "./payments.tokens.js";

@Module({})
export class PaymentsModule {
  static register(config: PaymentsConfig): DynamicModule {
    return {
      module: PaymentsModule,
      controllers: [PaymentsController, PaymentsEvents],
      providers: [
        { provide: PAYMENT_READS, useFactory: (database: Database) => createPaymentReads(database.db), inject: [MESSAGING_DATABASE] },
        { provide: CHARGE_HANDLERS, useValue: createChargeHandlers(createPaymentSimulator(config.simulator)) },
      ],
    };
  }
}
