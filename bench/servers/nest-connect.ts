// ConnectTransport in a Nest app: cleartext, or mTLS with certificates from `certDir`.
import "reflect-metadata";
import { join } from "node:path";
import { Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { AggregationTemporality, InMemoryMetricExporter, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { ConnectService, ConnectTransport, type ConnectTransportOptions } from "@protomesh/server/nest";
import { startTelemetry } from "@protomesh/telemetry";
import { OrdersService, type CreateOrderRequest, type GetOrderRequest } from "protomesh/gen/shop/orders/v1/orders_pb";
import { ConnectOrders } from "./connect-impl.js";

const impl = new ConnectOrders();

// Nest scans the prototype: each handler is a method of its own.
@ConnectService(OrdersService)
class OrdersController {
  createOrder(req: CreateOrderRequest) {
    return impl.createOrder(req);
  }
  getOrder(req: GetOrderRequest) {
    return impl.getOrder(req);
  }
  listOrders() {
    return impl.listOrders();
  }
  cancelOrder() {
    return impl.cancelOrder();
  }
  watchOrder() {
    return impl.watchOrder();
  }
}

@Module({ controllers: [OrdersController] })
class OrdersModule {}

export async function start(port: number, certDir?: string): Promise<void> {
  const tls =
    certDir === undefined
      ? {}
      : { tls: { certFile: join(certDir, "orders.crt"), keyFile: join(certDir, "orders.key"), caFile: join(certDir, "ca.crt"), reloadIntervalMs: 0 } };
  const transport = new ConnectTransport({ host: "127.0.0.1", port, ...tls, ...(await benchTelemetry()) });
  await (await NestFactory.createMicroservice(OrdersModule, { strategy: transport, logger: false })).listen();
}

// PROTOMESH_BENCH_TELEMETRY=1 prices telemetry on: a span per call (batched to an exporter that
// drops them) and the RPC duration histogram. Unset, the server is built as without telemetry.
async function benchTelemetry(): Promise<{ observe?: NonNullable<ConnectTransportOptions["observe"]> }> {
  if (process.env.PROTOMESH_BENCH_TELEMETRY !== "1") return {};
  const telemetry = await startTelemetry({
    service: "orders",
    spanExporter: { export: (_spans, done) => done({ code: 0 }), shutdown: () => Promise.resolve() },
    metricReaders: [new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 60_000 })],
  });
  return telemetry.serverInterceptor === undefined ? {} : { observe: telemetry.serverInterceptor };
}
