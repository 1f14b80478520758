// OrdersService as a Connect implementation, for the Nest ConnectTransport and bare connect-node.
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { type OrdersService, type CreateOrderRequest, type GetOrderRequest } from "protomesh/gen/shop/orders/v1/orders_pb";
import { fault, faulty, placeOrder } from "./orders-handler.js";

const unimplemented = (): never => {
  throw new ConnectError("not in the benchmark", Code.Unimplemented);
};

export class ConnectOrders implements ServiceImpl<typeof OrdersService> {
  createOrder(req: CreateOrderRequest) {
    return faulty() ? fault().then(() => placeOrder(req.userId, req.items)) : placeOrder(req.userId, req.items);
  }
  getOrder(req: GetOrderRequest) {
    return faulty() ? fault().then(() => ({ order: placeOrder(req.orderId, []).order })) : { order: placeOrder(req.orderId, []).order };
  }
  listOrders() {
    return unimplemented();
  }
  cancelOrder() {
    return unimplemented();
  }
   
  async *watchOrder() {
    unimplemented();
  }
}
