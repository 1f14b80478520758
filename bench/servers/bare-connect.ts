// connect-node's adapter on node:http2, nothing else: the ceiling for the Connect stack.
import http2 from "node:http2";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { OrdersService } from "protomesh/gen/shop/orders/v1/orders_pb";
import { ConnectOrders } from "./connect-impl.js";

export async function start(port: number): Promise<void> {
  const impl = new ConnectOrders();
  const server = http2.createServer(connectNodeAdapter({ routes: (router) => router.service(OrdersService, impl) }));
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
}
