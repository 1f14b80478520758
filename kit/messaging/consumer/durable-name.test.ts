import { describe, expect, it } from "vitest";
import { defaultDurableName } from "./durable-name.js";

describe("defaultDurableName", () => {
  it("joins service and subject, with dots and wildcards as underscores (JetStream forbids them in durables)", () => {
    expect(defaultDurableName("payments", "shop.inventory.v1.StockReserved")).toBe("payments_shop_inventory_v1_StockReserved");
    expect(defaultDurableName("inventory-1", "shop.orders.v1.>")).toBe("inventory-1_shop_orders_v1__");
    expect(defaultDurableName("audit", "shop.*.v1.OrderPlaced")).toBe("audit_shop___v1_OrderPlaced");
  });
});
