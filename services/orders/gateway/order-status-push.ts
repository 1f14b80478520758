// The orders service's status push as parts of its Nest module: the gateway, the event handlers
// that feed it, and the server it listens on. Absent when WS_PORT is unset.
import type { INestApplication, Provider, Type } from "@nestjs/common";
import type { ResolvedServerLimits } from "@protomesh/server";
import type { ServiceRuntime } from "../../host/run-service.js";
import type { Orders } from "../orders.js";
import { ORDERS_FROM_DATABASE } from "../orders.tokens.js";
import { createAccessTokenVerifier } from "./access-token.js";
import { OrderStatusEvents } from "./order-status-events.js";
import { ORDER_STATUS_GATEWAY_OPTIONS, OrderStatusGateway, type OrderStatusGatewayOptions } from "./order-status-gateway.js";
import { startOrderStatusServer, type OrderStatusServer } from "./order-status-server.js";

/** DI token of the running `OrderStatusServer` (its address, for logs and tests). */
export const ORDER_STATUS_SERVER = Symbol("orders.gateway.server");

/** How many of a user's newest orders a socket gets when it connects. */
const SNAPSHOT_SIZE = 20;

export interface OrderStatusPushConfig {
  host: string;
  port: number;
  tokenSecret: string;
  maxSocketsPerUser: number;
  redisUrl: string | undefined;
  channelPrefix: string;
}

export interface OrderStatusPush {
  controllers: Type[];
  providers(runtime: ServiceRuntime): Provider[];
  /** Installs the gateway's WebSocket adapter; call before `app.init()`. */
  configureApp: (app: INestApplication, runtime: ServiceRuntime) => void;
}

/** `limits`: the gRPC server's bounds, of which the gateway's HTTP server keeps the connection and handshake ones. */
export function orderStatusPush(config: OrderStatusPushConfig, limits: Pick<ResolvedServerLimits, "maxConnections" | "handshakeTimeoutMs">): OrderStatusPush {
  return {
    controllers: [OrderStatusEvents],
    providers: (runtime) => [
      OrderStatusGateway,
      {
        provide: ORDER_STATUS_GATEWAY_OPTIONS,
        // From the database: a snapshot must not predate a change whose push it then hides.
        useFactory: (orders: Orders): OrderStatusGatewayOptions => ({
          verifyToken: createAccessTokenVerifier(config.tokenSecret),
          maxSocketsPerUser: config.maxSocketsPerUser,
          recentOrders: async (userId) => (await orders.listOrders({ userId, pageSize: SNAPSHOT_SIZE, pageToken: "" })).orders,
          onSnapshotError: (err, userId) => runtime.logger.warn({ err, userId }, "order status push: could not read a connecting user's orders; they get changes only"),
        }),
        inject: [ORDERS_FROM_DATABASE],
      },
      {
        provide: ORDER_STATUS_SERVER,
        useFactory: () =>
          startOrderStatusServer({
            host: config.host,
            port: config.port,
            redisUrl: config.redisUrl,
            channelPrefix: config.channelPrefix,
            maxConnections: limits.maxConnections,
            headersTimeoutMs: limits.handshakeTimeoutMs,
            onRedisError: (err) => runtime.logger.warn({ err }, "order status push: Redis failed; other replicas miss pushes until it is back"),
          }),
      },
    ],
    configureApp: (app, runtime) => {
      const server = app.get<OrderStatusServer>(ORDER_STATUS_SERVER);
      app.useWebSocketAdapter(server.adapter);
      runtime.logger.info({ address: server.address(), redis: config.redisUrl !== undefined }, `order status gateway listening on ws://${server.address()}`);
    },
  };
}
