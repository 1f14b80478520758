/** DI tokens of the orders service. */
export const ORDERS_DATABASE = Symbol("orders.database");
export const ORDERS = Symbol("orders.orders");
export const ORDER_WATCH = Symbol("orders.watch");
