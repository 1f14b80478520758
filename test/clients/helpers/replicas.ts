// Real HTTP/2 servers on 127.0.0.1 serving small fakes of the shop services and grpc.health.v1,
// with switches to stall, fail, report NOT_SERVING, die and come back.
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "../../../clients/gen/grpc/health/v1/health_pb.js";
import { InventoryService } from "../../../gen/shop/inventory/v1/inventory_pb.js";
import { OrderSchema, OrdersService } from "../../../gen/shop/orders/v1/orders_pb.js";

export interface TlsServerOptions {
  key: string;
  cert: string;
  /** CA that client certificates must chain to (mTLS). */
  ca: string;
}

/** One server replica and the switches tests flip. */
export interface Replica {
  readonly name: string;
  /** "127.0.0.1:port" */
  readonly address: string;
  readonly port: number;
  /** Calls received by the shop services (health checks not included). */
  calls: number;
  /** The :authority every call arrived with ("host:port"). */
  readonly authorities: Set<string>;
  /** grpc-timeout header of every call received, in ms, with the time it arrived. */
  readonly timeouts: { at: number; ms: number }[];
  /** Handlers wait until the caller gives up. */
  stalled: boolean;
  /** Handlers fail with this code. */
  failWith: Code | undefined;
  /** Sent as grpc-retry-pushback-ms with failures. */
  pushbackMs: string | undefined;
  health: HealthCheckResponse_ServingStatus;
  /** HTTP/2 connections open now. */
  connections(): number;
  /** Closes the listener and every connection, as a crash would. */
  kill(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
}

export interface ReplicaSet {
  readonly replicas: Replica[];
  close(): Promise<void>;
}

export interface ReplicaOptions {
  /** Default 127.0.0.1; other 127.x addresses let several replicas share a port, as DNS records do. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  tls?: TlsServerOptions;
}

let counter = 0;

export async function startReplicas(count: number, options: ReplicaOptions = {}): Promise<ReplicaSet> {
  const replicas: Replica[] = [];
  try {
    for (let i = 0; i < count; i++) {
      replicas.push(await startReplica(options));
    }
  } catch (error) {
    await Promise.all(replicas.map((r) => r.kill()));
    throw error;
  }
  return { replicas, close: () => Promise.all(replicas.map((r) => r.kill())).then(() => undefined) };
}

export async function startReplica(options: ReplicaOptions = {}): Promise<Replica> {
  const { tls } = options;
  const host = options.host ?? "127.0.0.1";
  const name = `replica-${counter++}`;
  const sessions = new Set<http2.ServerHttp2Session>();
  let server: http2.Http2Server | undefined;
  const replica: Replica = {
    name,
    address: "",
    port: 0,
    calls: 0,
    authorities: new Set(),
    timeouts: [],
    stalled: false,
    failWith: undefined,
    pushbackMs: undefined,
    health: HealthCheckResponse_ServingStatus.SERVING,
    connections: () => sessions.size,
    kill: async () => {
      const s = server;
      server = undefined;
      if (s === undefined) {
        return;
      }
      for (const session of sessions) {
        session.destroy();
      }
      sessions.clear();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    restart: async () => {
      server = await listen(replica.port);
    },
  };

  const serve = async (ctx: HandlerContext): Promise<void> => {
    replica.calls++;
    replica.authorities.add(new URL(ctx.url).host);
    const timeout = ctx.requestHeader.get("grpc-timeout");
    if (timeout !== null) {
      replica.timeouts.push({ at: performance.now(), ms: Number(timeout.replace(/m$/, "")) });
    }
    if (replica.stalled) {
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
      throw new ConnectError("stalled call abandoned", Code.Canceled);
    }
    if (replica.failWith !== undefined) {
      if (replica.pushbackMs !== undefined) {
        ctx.responseTrailer.set("grpc-retry-pushback-ms", replica.pushbackMs);
      }
      throw new ConnectError(`${name} fails on purpose`, replica.failWith);
    }
  };

  const routes = (router: ConnectRouter) => {
    router.service(OrdersService, {
      async getOrder(req, ctx) {
        await serve(ctx);
        return { order: create(OrderSchema, { orderId: req.orderId, userId: name }) };
      },
      async createOrder(req, ctx) {
        await serve(ctx);
        return { order: { orderId: "00000000-0000-4000-8000-000000000001", userId: req.userId }, created: true };
      },
      async *watchOrder(req, ctx) {
        await serve(ctx);
        yield { order: { orderId: req.orderId, userId: name } };
      },
    });
    router.service(InventoryService, {
      async quoteItems(_req, ctx) {
        await serve(ctx);
        return { allAvailable: true };
      },
    });
    router.service(Health, {
      check() {
        return { status: replica.health };
      },
    });
  };

  const listen = (port: number): Promise<http2.Http2Server> =>
    new Promise((resolve, reject) => {
      const handler = connectNodeAdapter({ routes });
      const s = tls
        ? http2.createSecureServer({ key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: true, rejectUnauthorized: true, allowHTTP1: false }, handler)
        : http2.createServer(handler);
      // Small frames go out at once, as a production server should send them.
      s.on(tls ? "secureConnection" : "connection", (socket: import("node:net").Socket) => socket.setNoDelay(true));
      s.on("session", (session) => {
        sessions.add(session);
        session.once("close", () => sessions.delete(session));
      });
      s.once("error", reject);
      s.listen(port, host, () => resolve(s));
    });

  server = await listen(options.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  return Object.assign(replica, { port, address: `${host}:${port}` });
}
