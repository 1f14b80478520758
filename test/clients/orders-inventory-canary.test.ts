// Orders' inventory calls during a canary release (INVENTORY_CANARY_TARGET and
// INVENTORY_WEIGHTS_FILE), through orders' own InventoryQuotesModule over real connect-node
// replicas on loopback: the canary gets the share the weights file gives it, the module's client
// is closed with the app, and a bad file stops the service from starting with its name.
import "reflect-metadata";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NestFactory } from "@nestjs/core";
import { describe, expect, it } from "vitest";
import { isCallNotSentError } from "@protomesh/clients";
import { loadOrdersConfig, type OrdersConfig } from "../../services/orders/config.js";
import type { FetchQuote } from "../../services/orders/inventory-quotes.js";
import { InventoryQuotesModule } from "../../services/orders/inventory-quotes.module.js";
import { INVENTORY_QUOTES } from "../../services/orders/orders.tokens.js";
import { useCleanup } from "./helpers/cleanup.js";
import { runCalls } from "./helpers/load.js";
import { startReplicas } from "./helpers/replicas.js";

const defer = useCleanup();

async function weightsFile(content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "protomesh-weights-"));
  defer(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, "inventory-weights.json");
  await writeFile(file, content);
  return file;
}

/** Orders' inventory quotes as its module provides them, in an app of their own. */
const quotesApp = (config: OrdersConfig) => NestFactory.createApplicationContext(InventoryQuotesModule.register(config), { logger: false, abortOnError: false });

describe("orders' inventory canary", () => {
  it("sends the canary the share INVENTORY_WEIGHTS_FILE gives it: 10 % ± 2 % of 2,000 quotes; the module closes its client with the app", async () => {
    const set = await startReplicas(3);
    defer(() => set.close());
    const [canary, ...stable] = set.replicas;
    const config = loadOrdersConfig({
      INVENTORY_TARGET: stable.map((r) => r.address).join(","),
      INVENTORY_CANARY_TARGET: canary!.address,
      INVENTORY_WEIGHTS_FILE: await weightsFile(JSON.stringify({ stable: 90, canary: 10 })),
    });
    const app = await quotesApp(config);
    let closed = false;
    defer(() => (closed ? undefined : app.close()));
    const quote = app.get<FetchQuote>(INVENTORY_QUOTES);

    const calls = 2_000;
    const { failures } = await runCalls(() => quote({ items: [{ sku: "MUG-1", quantity: 1 }], currencyCode: "EUR" }), 8, calls);
    expect(failures).toEqual([]);
    const all = canary!.calls + stable.reduce((n, r) => n + r.calls, 0);
    expect(all).toBe(calls);
    const share = canary!.calls / all;
    expect(share).toBeGreaterThanOrEqual(0.08);
    expect(share).toBeLessThanOrEqual(0.12);

    // The clients module closed the client with the app: a call fails at once, sent nowhere.
    await app.close();
    closed = true;
    const afterClose = await quote({ items: [{ sku: "MUG-1", quantity: 1 }], currencyCode: "EUR" }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isCallNotSentError(afterClose) && afterClose.reason).toBe("client-closed");
    expect(canary!.calls + stable.reduce((n, r) => n + r.calls, 0)).toBe(calls);
  }, 60_000);

  it("refuses a weights file it cannot use, naming it, when the module is registered (before the host opens anything)", async () => {
    const file = await weightsFile('{"stable": "ninety"}');
    const config = loadOrdersConfig({ INVENTORY_TARGET: "127.0.0.1:1", INVENTORY_CANARY_TARGET: "127.0.0.1:2", INVENTORY_WEIGHTS_FILE: file });
    expect(() => InventoryQuotesModule.register(config)).toThrow(`${file}: expected an object of subset names to weights`);
  });

  it.each([
    [{ INVENTORY_CANARY_TARGET: "127.0.0.1:2" }, "INVENTORY_CANARY_TARGET and INVENTORY_WEIGHTS_FILE go together"],
    [{ INVENTORY_WEIGHTS_FILE: "/etc/weights.json" }, "INVENTORY_CANARY_TARGET and INVENTORY_WEIGHTS_FILE go together"],
    [{ INVENTORY_CANARY_TARGET: "nohost", INVENTORY_WEIGHTS_FILE: "/w" }, "INVENTORY_CANARY_TARGET: each entry must be host:port"],
    [{ INVENTORY_CANARY_TARGET: "a:1", INVENTORY_WEIGHTS_FILE: "/w", INVENTORY_TRANSPORT: "nats" }, "must be grpc with INVENTORY_CANARY_TARGET"],
    [{ INVENTORY_CANARY_TARGET: "a:1", INVENTORY_WEIGHTS_FILE: "/w", INVENTORY_SHARDS: "inventory-0", INVENTORY_SHARD_TARGETS: "inventory-0=a:2" }, "a canary of sharded inventory is not supported"],
  ])("refuses the configuration %j", (environment, message) => {
    expect(() => loadOrdersConfig(environment)).toThrow(message);
  });
});
