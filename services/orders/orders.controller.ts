import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { type BeforeApplicationShutdown, Inject } from "@nestjs/common";
import { ConnectService } from "@protomesh/server/nest";
import {
  OrdersService,
  type CancelOrderRequest,
  type CreateOrderRequest,
  type GetOrderRequest,
  type ListOrdersRequest,
  type WatchOrderRequest,
} from "protomesh/gen/shop/orders/v1/orders_pb";
import type { OrderWatch } from "./order-watch.js";
import type { Orders } from "./orders.js";
import { ORDER_WATCH, ORDERS } from "./orders.tokens.js";

@ConnectService(OrdersService)
export class OrdersController implements ServiceImpl<typeof OrdersService>, BeforeApplicationShutdown {
  constructor(
    @Inject(ORDERS) private readonly orders: Orders,
    @Inject(ORDER_WATCH) private readonly watch: OrderWatch,
  ) {}

  async createOrder(request: CreateOrderRequest, context: HandlerContext) {
    const { quoteAgeMs, ...response } = await this.orders.createOrder(request);
    if (quoteAgeMs !== undefined) {
      // Priced from inventory's remembered answers while it was down (docs/caching.md).
      context.responseHeader.set("quote-source", "cache");
      context.responseHeader.set("quote-age-ms", String(quoteAgeMs));
    }
    return response;
  }

  async getOrder(request: GetOrderRequest) {
    return { order: await this.orders.getOrder(request.orderId) };
  }

  async listOrders(request: ListOrdersRequest) {
    return this.orders.listOrders(request);
  }

  async cancelOrder(request: CancelOrderRequest) {
    return { order: await this.orders.cancelOrder(request.orderId) };
  }

  async *watchOrder(request: WatchOrderRequest, context: HandlerContext) {
    for await (const order of this.watch.watch(request.orderId, context.signal)) yield { order };
  }

  // Nest runs this before the transports drain their calls: open WatchOrder streams end now with
  // Unavailable ("watch again", on another replica) instead of holding the shutdown for its grace.
  async beforeApplicationShutdown(): Promise<void> {
    await this.watch.close();
  }
}
