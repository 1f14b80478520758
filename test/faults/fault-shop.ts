// What every single-broker fault scenario starts from: a private nats-server it may restart,
// cut or tap, the shop on it with a fifth of payments declined (unless the scenario says
// otherwise), and mugs in stock.
import { afterAll, beforeAll } from "vitest";
import { startNatsServer, type NatsServer } from "../helpers/index.js";
import { startShop, type Shop, type ShopOptions } from "../saga/shop.js";

export interface FaultShop {
  readonly nats: NatsServer;
  readonly shop: Shop;
}

/**
 * Starts the scenario's nats-server and shop before the suite and stops them after it.
 * `shopOptions` runs once the nats-server is up, so a scenario can put a wire tap in front of it
 * first. A scenario's own servers and taps go in hooks of its own: a `beforeAll` registered
 * before this call runs before the shop starts, an `afterAll` registered after it runs before
 * the shop stops.
 */
export function useFaultShop(shopOptions: (nats: NatsServer) => ShopOptions | Promise<ShopOptions>): FaultShop {
  let nats: NatsServer | undefined;
  let shop: Shop | undefined;
  beforeAll(async () => {
    nats = await startNatsServer();
    const { env, ...options } = await shopOptions(nats);
    shop = await startShop({
      name: "fault",
      // The scenarios provoke errors on purpose.
      logLevel: "fatal",
      natsUrls: [nats.url],
      ...options,
      env: { ...env, payments: { PAYMENT_DECLINE_RATE: "0.2", ...env?.payments } },
    });
    await shop.inventory.setStock({ sku: "MUG-1", name: "Mug", available: 10_000, unitPrice: { currencyCode: "EUR", amountMinor: 1250n } });
  }, 90_000);
  afterAll(async () => {
    await shop?.stop();
    await nats?.dispose();
  }, 60_000);
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the fault scenario's ${what} is not started: use it inside a test`);
    return value;
  };
  return {
    get nats() {
      return started(nats, "nats-server");
    },
    get shop() {
      return started(shop, "shop");
    },
  };
}
