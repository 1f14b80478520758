/** DI tokens of the inventory service: symbols, so no two providers can collide by name. */
export const INVENTORY_DATABASE = Symbol("inventory.database");
export const STOCK_STORE = Symbol("inventory.stock-store");
export const STOCK_CACHE = Symbol("inventory.stock-cache");
