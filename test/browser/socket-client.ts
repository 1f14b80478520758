// A Node Socket.IO client of the order status gateway, as the gateway tests connect.
import { io, type Socket } from "socket.io-client";

/** An order as the gateway pushes it (protobuf JSON of shop.orders.v1.Order, the fields the tests use). */
export interface PushedOrder {
  orderId: string;
  userId: string;
  status: string;
  updatedAt: string;
}

export interface NodeClient {
  socket: Socket;
  pushes: PushedOrder[];
}

/** Resolves once connected, rejects with the server's refusal. */
export function connectAs(gateway: string, token: string | undefined): Promise<NodeClient> {
  const socket = io(gateway, { ...(token === undefined ? {} : { auth: { token } }), transports: ["websocket"], reconnection: false, forceNew: true });
  const pushes: PushedOrder[] = [];
  socket.on("order", (order: PushedOrder) => pushes.push(order));
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve({ socket, pushes }));
    socket.once("connect_error", (error) => {
      socket.close();
      reject(error);
    });
  });
}
