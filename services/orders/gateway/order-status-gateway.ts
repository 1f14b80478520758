// The Socket.IO gateway browsers connect to for their orders' status. A client proves who it is
// with a bearer token at the handshake and joins only its own user's room; nothing a client
// sends can change that. Pushes go to a room, so with the Redis adapter every replica delivers
// them to its own members of that room.
import { toJson } from "@bufbuild/protobuf";
import { Inject } from "@nestjs/common";
import { type OnGatewayConnection, type OnGatewayInit, WebSocketGateway, WebSocketServer } from "@nestjs/websockets";
import type { Server, Socket } from "socket.io";
import { OrderSchema, type Order } from "protomesh/gen/shop/orders/v1/orders_pb";
import { type AccessTokenVerifier, isAccessTokenError } from "./access-token.js";

/** DI token of the `AccessTokenVerifier` the gateway authenticates handshakes with. */
export const ACCESS_TOKEN_VERIFIER = Symbol("orders.gateway.accessTokenVerifier");

/** The event a client receives: the order in the protobuf JSON mapping of shop.orders.v1.Order. */
export const ORDER_EVENT = "order";

/** The room of one user's sockets. */
export const userRoom = (userId: string) => `user:${userId}`;

interface AuthenticatedData {
  userId: string;
}

/** The token from `io(url, { auth: { token } })` (browsers), else an `Authorization: Bearer` header. */
function tokenOf(socket: Socket): string | undefined {
  const auth = socket.handshake.auth as { token?: unknown };
  if (typeof auth.token === "string" && auth.token !== "") return auth.token;
  const header = socket.handshake.headers.authorization;
  return header?.startsWith("Bearer ") === true ? header.slice("Bearer ".length) : undefined;
}

// The port comes from the adapter the host installs (WS_PORT), not from this decorator. Tokens
// are not cookies, so any origin may connect: a page without a token gets nothing.
@WebSocketGateway({ cors: { origin: "*" } })
export class OrderStatusGateway implements OnGatewayInit<Server>, OnGatewayConnection<Socket> {
  @WebSocketServer() private server: Server | undefined;

  constructor(@Inject(ACCESS_TOKEN_VERIFIER) private readonly verify: AccessTokenVerifier) {}

  afterInit(server: Server): void {
    server.use((socket, next) => {
      const token = tokenOf(socket);
      if (token === undefined) {
        next(new Error("unauthorized: no token; connect with io(url, { auth: { token } })"));
        return;
      }
      this.verify(token).then(
        (userId) => {
          (socket.data as AuthenticatedData).userId = userId;
          next();
        },
        (error: unknown) => next(new Error(`unauthorized: ${isAccessTokenError(error) ? error.message : "the token could not be checked"}`)),
      );
    });
  }

  // Runs in the same tick as the handshake completes, so the socket is in its room before the
  // client sees "connect".
  async handleConnection(socket: Socket): Promise<void> {
    await socket.join(userRoom((socket.data as AuthenticatedData).userId));
  }

  /** Sends `order` to every socket of its user, on every replica sharing the adapter. */
  push(order: Order): void {
    this.server?.to(userRoom(order.userId)).emit(ORDER_EVENT, toJson(OrderSchema, order));
  }
}
