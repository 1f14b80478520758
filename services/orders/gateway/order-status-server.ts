// Where the gateway listens: its own HTTP server on WS_PORT (the gRPC port speaks HTTP/2 only),
// with Socket.IO's Redis adapter when REDIS_URL is set so a push reaches the sockets of every
// replica. Without Redis the in-memory adapter serves this replica's sockets alone.
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { IoAdapter } from "@nestjs/platform-socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import type { Server, ServerOptions } from "socket.io";

export interface OrderStatusServerOptions {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Unset: pushes reach only this replica's sockets. */
  redisUrl?: string | undefined;
  /** Prefix of the Redis pub/sub channels; replicas that share it share their rooms. */
  channelPrefix: string;
  /** Open connections; more are closed as they arrive (the gRPC port's bound, ADR 0126). */
  maxConnections: number;
  /** Time a connection has to send its request headers (the gRPC port's handshake bound). */
  headersTimeoutMs: number;
  /** Redis connection and publish failures (pushes to other replicas are lost meanwhile). */
  onRedisError: (error: Error) => void;
}

export interface OrderStatusServer {
  /** Install with `app.useWebSocketAdapter(server.adapter)` before `app.init()`. */
  readonly adapter: IoAdapter;
  /** "127.0.0.1:8081". */
  address(): string;
  /** Stops listening, for use without Nest (an app's close does it through the adapter). */
  close(): Promise<void>;
}

/**
 * The Redis adapter publishes without awaiting; a publish rejected while Redis is down would be
 * an unhandled rejection, which ends a Node process. This client reports it instead.
 */
function reportingPublishFailures(client: Redis, onError: (error: Error) => void): Redis {
  return new Proxy(client, {
    get(target, property) {
      if (property === "publish") {
        return (channel: string | Buffer, message: string | Buffer) =>
          target.publish(channel, message).catch((error: unknown) => {
            onError(error instanceof Error ? error : new Error(String(error)));
            return 0;
          });
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

class OrderStatusIoAdapter extends IoAdapter {
  constructor(
    httpServer: HttpServer,
    private readonly redis: { publisher: Redis; subscriber: Redis; channelPrefix: string } | undefined,
  ) {
    super(httpServer);
  }

  // Always this adapter's own HTTP server, whatever port a gateway decorator names.
  override createIOServer(_port: number, options?: ServerOptions): Server {
    const server = super.createIOServer(0, options);
    if (this.redis !== undefined) server.adapter(createAdapter(this.redis.publisher, this.redis.subscriber, { key: this.redis.channelPrefix }));
    return server;
  }

  // Called by Nest after the gateway's server (and with it the HTTP server) has closed.
  override async dispose(): Promise<void> {
    if (this.redis === undefined) return;
    await Promise.all([this.redis.publisher.quit(), this.redis.subscriber.quit()].map((quit) => quit.catch(() => undefined)));
  }
}

export async function startOrderStatusServer(options: OrderStatusServerOptions): Promise<OrderStatusServer> {
  // Node's own bounds apply too: headers within headersTimeout once they start, a request within
  // 5 min, idle keep-alive sockets closed after 5 s. A connection that sends nothing at all is
  // closed here.
  const httpServer = createServer({ headersTimeout: options.headersTimeoutMs });
  httpServer.maxConnections = options.maxConnections;
  httpServer.on("connection", (socket: Socket) => {
    socket.setTimeout(options.headersTimeoutMs, () => socket.destroy());
    socket.once("data", () => socket.setTimeout(0));
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(options.port, options.host, () => {
      httpServer.off("error", reject);
      resolve();
    });
  });
  let redis: { publisher: Redis; subscriber: Redis; channelPrefix: string } | undefined;
  if (options.redisUrl !== undefined) {
    // Publishing fails fast while Redis is away (this replica's sockets are still served);
    // the subscriber waits and resubscribes after a reconnect.
    const publisher = new Redis(options.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2_000) });
    const subscriber = new Redis(options.redisUrl, { maxRetriesPerRequest: null, retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2_000) });
    publisher.on("error", options.onRedisError);
    subscriber.on("error", options.onRedisError);
    redis = { publisher: reportingPublishFailures(publisher, options.onRedisError), subscriber, channelPrefix: options.channelPrefix };
  }
  const adapter = new OrderStatusIoAdapter(httpServer, redis);
  return {
    adapter,
    address: () => {
      const { address, port } = httpServer.address() as AddressInfo;
      return `${address.includes(":") ? `[${address}]` : address}:${port}`;
    },
    close: () => new Promise<void>((resolve) => httpServer.close(() => resolve())),
  };
}
