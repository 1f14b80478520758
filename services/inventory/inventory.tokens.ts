/** DI tokens of the inventory service: symbols, so no two providers can collide by name. */
export const INVENTORY_DATABASE = Symbol("inventory.database");
export const STOCK_STORE = Symbol("inventory.stock-store");
export const STOCK_CACHE = Symbol("inventory.stock-cache");
/** The saga handlers and the consumer name they apply events under (`InventorySaga`). */
export const INVENTORY_SAGA = Symbol("inventory.saga");
