/** DI tokens of the orders service. */
export const ORDERS = Symbol("orders.orders");
export const ORDER_WATCH = Symbol("orders.watch");
export const ORDER_CACHE = Symbol("orders.order-cache");
/** The use cases reading the database directly (the order watch needs them uncached). */
export const ORDERS_FROM_DATABASE = Symbol("orders.orders-from-database");
/** The saga's event handlers (saga.ts), aware of inventory's shards when it has them. */
export const SAGA_HANDLERS = Symbol("orders.saga-handlers");
/** How CreateOrder asks inventory for prices (`FetchQuote`): its gRPC client, its shards' clients, or NATS request/reply. */
export const INVENTORY_QUOTES = Symbol("orders.inventory-quotes");
