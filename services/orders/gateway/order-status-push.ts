// The orders service's status push as parts of its Nest module: the gateway, the event handlers
// that feed it, and the server it listens on. Absent when WS_PORT is unset.
import type { INestApplication, Provider, Type } from "@nestjs/common";
import type { ResolvedServerLimits } from "@protomesh/server";
import type { Logger } from "../../host/logger.js";
import { LOGGER } from "../../host/shop.tokens.js";
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
  providers: Provider[];
  /** Installs the gateway's WebSocket adapter; call before `app.init()`. */
  configureApp: (app: INestApplication) => void;
}

/** `limits`: the gRPC server's bounds, of which the gateway's HTTP server keeps the connection and handshake ones. */
export function orderStatusPush(config: OrderStatusPushConfig, limits: Pick<ResolvedServerLimits, "maxConnections" | "handshakeTimeoutMs">): OrderStatusPush {
  return {
    controllers: [OrderStatusEvents],
    providers: [
      OrderStatusGateway,
      {
        provide: ORDER_STATUS_GATEWAY_OPTIONS,
        // From the database: a snapshot must not predate a change whose push it then hides.
        useFactory: (orders: Orders, logger: Logger): OrderStatusGatewayOptions => ({
          verifyToken: createAccessTokenVerifier(config.tokenSecret),
          maxSocketsPerUser: config.maxSocketsPerUser,
          recentOrders: async (userId) => (await orders.listOrders({ userId, pageSize: SNAPSHOT_SIZE, pageToken: "" })).orders,
          onSnapshotError: (err, userId) => logger.warn({ err, userId }, "order status push: could not read a connecting user's orders; they get changes only"),
        }),
        inject: [ORDERS_FROM_DATABASE, LOGGER],
      },
      {
        provide: ORDER_STATUS_SERVER,
        useFactory: (logger: Logger) =>
          startOrderStatusServer({
            host: config.host,
            port: config.port,
            redisUrl: config.redisUrl,
            channelPrefix: config.channelPrefix,
            maxConnections: limits.maxConnections,
            headersTimeoutMs: limits.handshakeTimeoutMs,
            onRedisError: (err) => logger.warn({ err }, "order status push: Redis failed; other replicas miss pushes until it is back"),
          }),
        inject: [LOGGER],
      },
    ],
    configureApp: (app) => {
      const server = app.get<OrderStatusServer>(ORDER_STATUS_SERVER);
      app.useWebSocketAdapter(server.adapter);
      app.get<Logger>(LOGGER).info({ address: server.address(), redis: config.redisUrl !== undefined }, `order status gateway listening on ws://${server.address()}`);
    },
  };
}
