/** DI tokens of the inventory service: symbols, so no two providers can collide by name. */
export const STOCK_STORE = Symbol("inventory.stock-store");
export const STOCK_CACHE = Symbol("inventory.stock-cache");
/** The saga's reservation handlers (`ReservationHandlers`) of this inventory, all SKUs or one shard's. */
export const RESERVATION_HANDLERS = Symbol("inventory.reservation-handlers");
