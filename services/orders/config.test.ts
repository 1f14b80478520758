import { describe, expect, it } from "vitest";
import { loadOrdersConfig } from "./config.js";

describe("orders' shard configuration", () => {
  it("reads each shard's target", () => {
    const config = loadOrdersConfig({ INVENTORY_SHARDS: "inventory-0,inventory-1", INVENTORY_SHARD_TARGETS: "inventory-0=10.0.0.1:50052,10.0.0.2:50052; inventory-1=inventory-1:50052" });
    expect(config.inventory.shards).toEqual([
      { name: "inventory-0", target: ["10.0.0.1:50052", "10.0.0.2:50052"] },
      { name: "inventory-1", target: ["inventory-1:50052"] },
    ]);
    expect(loadOrdersConfig({}).inventory.shards).toBeUndefined();
  });

  it.each([
    [{ INVENTORY_SHARDS: "inventory-0" }, "set INVENTORY_SHARDS and INVENTORY_SHARD_TARGETS together"],
    [{ INVENTORY_SHARDS: "inventory-0,inventory-1", INVENTORY_SHARD_TARGETS: "inventory-0=a:1" }, "no target for shard inventory-1"],
    [{ INVENTORY_SHARDS: "inventory-0", INVENTORY_SHARD_TARGETS: "inventory-0=a:1;inventory-9=b:1" }, '"inventory-9" is not one of INVENTORY_SHARDS'],
    [{ INVENTORY_SHARDS: "inventory-0", INVENTORY_SHARD_TARGETS: "inventory-0=nohost" }, "the target must be host:port entries"],
    [{ INVENTORY_SHARDS: "inventory-0", INVENTORY_SHARD_TARGETS: "inventory-0=a:1", INVENTORY_TRANSPORT: "nats" }, "must be grpc with INVENTORY_SHARDS"],
  ])("refuses %j", (environment, message) => {
    expect(() => loadOrdersConfig(environment)).toThrow(message);
  });
});

describe("WatchOrder's resync interval", () => {
  it("is 10 s unless WATCH_ORDER_RESYNC_INTERVAL_MS says otherwise, and at least 100 ms", () => {
    expect(loadOrdersConfig({}).watchOrderResyncIntervalMs).toBe(10_000);
    expect(loadOrdersConfig({ WATCH_ORDER_RESYNC_INTERVAL_MS: "2500" }).watchOrderResyncIntervalMs).toBe(2_500);
    expect(() => loadOrdersConfig({ WATCH_ORDER_RESYNC_INTERVAL_MS: "50" })).toThrow("WATCH_ORDER_RESYNC_INTERVAL_MS: must be at least 100 ms");
  });
});
