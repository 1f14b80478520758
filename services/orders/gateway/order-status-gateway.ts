// The Socket.IO gateway browsers connect to for their orders' status. A client proves who it is
// with a bearer token at the handshake and joins only its own user's room; nothing a client
// sends can change that. On connecting it gets its newest orders as they are, then every change:
// pushes go to a room, so with the Redis adapter every replica delivers them to its own members.
import { toJson } from "@bufbuild/protobuf";
import { Inject } from "@nestjs/common";
import { type OnGatewayConnection, type OnGatewayInit, WebSocketGateway, WebSocketServer } from "@nestjs/websockets";
import type { Server, Socket } from "socket.io";
import { OrderSchema, type Order } from "protomesh/gen/shop/orders/v1/orders_pb";
import { type AccessTokenVerifier, isAccessTokenError } from "./access-token.js";
import { createSocketsPerUser, type SocketsPerUser } from "./sockets-per-user.js";

export interface OrderStatusGatewayOptions {
  verifyToken: AccessTokenVerifier;
  /** Most sockets one user may hold open on this replica (WS_MAX_SOCKETS_PER_USER). */
  maxSocketsPerUser: number;
  /** The user's newest orders, newest first, sent to a socket when it connects. */
  recentOrders(userId: string): Promise<Order[]>;
  /** The snapshot could not be read; the socket still gets every change from now on. */
  onSnapshotError(error: unknown, userId: string): void;
}

/** DI token of the gateway's `OrderStatusGatewayOptions`. */
export const ORDER_STATUS_GATEWAY_OPTIONS = Symbol("orders.gateway.options");

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
  private readonly socketsPerUser: SocketsPerUser;

  constructor(@Inject(ORDER_STATUS_GATEWAY_OPTIONS) private readonly options: OrderStatusGatewayOptions) {
    this.socketsPerUser = createSocketsPerUser(options.maxSocketsPerUser);
  }

  afterInit(server: Server): void {
    server.use((socket, next) => {
      const token = tokenOf(socket);
      if (token === undefined) {
        next(new Error("unauthorized: no token; connect with io(url, { auth: { token } })"));
        return;
      }
      this.options.verifyToken(token).then(
        (userId) => {
          const release = this.socketsPerUser.admit(userId);
          if (release === undefined) {
            next(new Error(`too many connections: this user has ${this.options.maxSocketsPerUser} open on this server; close one first`));
            return;
          }
          // Given back when the socket leaves, or when its connection closes before it joined.
          const leave = () => {
            socket.conn.off("close", leave);
            release();
          };
          socket.once("disconnect", leave);
          socket.conn.once("close", leave);
          (socket.data as AuthenticatedData).userId = userId;
          next();
        },
        (error: unknown) => next(new Error(`unauthorized: ${isAccessTokenError(error) ? error.message : "the token could not be checked"}`)),
      );
    });
  }

  // Joins in the same tick as the handshake completes, so the socket is in its room before the
  // client sees "connect"; a change racing the snapshot arrives too, and updatedAt orders them.
  async handleConnection(socket: Socket): Promise<void> {
    const { userId } = socket.data as AuthenticatedData;
    await socket.join(userRoom(userId));
    try {
      const recent = await this.options.recentOrders(userId);
      for (const order of recent.reverse()) socket.emit(ORDER_EVENT, toJson(OrderSchema, order));
    } catch (error) {
      this.options.onSnapshotError(error, userId);
    }
  }

  /** Sends `order` to every socket of its user, on every replica sharing the adapter. */
  push(order: Order): void {
    this.server?.to(userRoom(order.userId)).emit(ORDER_EVENT, toJson(OrderSchema, order));
  }
}
