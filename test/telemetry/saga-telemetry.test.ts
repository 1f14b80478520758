// OpenTelemetry across the saga: one CreateOrder that confirms is one trace through orders,
// inventory and payments (gRPC, outbox, JetStream), and each service's Prometheus endpoint
// reports the calls, the outbox, the consumers and the saga's outcome.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream } from "@nats-io/jetstream";
import { connect, headers } from "@nats-io/transport-node";
import { SpanKind } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrderStatus } from "protomesh/gen/shop/orders/v1/orders_pb";
import { EventHeaders } from "@protomesh/messaging";
import { names, scrape, sum } from "./prometheus.js";
import { startTracedShop, type TracedShop } from "./traced-shop.js";

const serviceOf = (span: ReadableSpan) => String(span.resource.attributes["service.name"]);
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

async function confirmedOrder(shop: TracedShop): Promise<string> {
  const { order } = await shop.orders.createOrder({ userId: "alice", items: [{ sku: "MUG-1", quantity: 2 }], idempotencyKey: `trace-${randomUUID()}`, currencyCode: "EUR" });
  const orderId = order?.orderId ?? "";
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(50)) {
    const status = (await shop.orders.getOrder({ orderId })).order?.status;
    if (status === OrderStatus.CONFIRMED) return orderId;
    if (status === OrderStatus.CANCELLED) throw new Error(`order ${orderId} was cancelled`);
  }
  throw new Error(`order ${orderId} did not settle`);
}

/** The spans of the trace of the one CreateOrder made so far, once `complete` holds for them. */
async function traceOfOnlyOrder(shop: TracedShop, complete: (spans: ReadableSpan[]) => boolean): Promise<ReadableSpan[]> {
  let spans: ReadableSpan[] = [];
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(100)) {
    const all = await shop.spans();
    const creates = all.filter((s) => s.name === "shop.orders.v1.OrdersService/CreateOrder" && s.kind === SpanKind.SERVER);
    expect(creates).toHaveLength(1);
    spans = all.filter((s) => s.spanContext().traceId === creates[0]?.spanContext().traceId);
    if (complete(spans)) return spans;
  }
  return spans;
}

describe("telemetry across the order saga", () => {
  let shop: TracedShop;

  beforeAll(async () => {
    shop = await startTracedShop();
    await shop.inventory.setStock({ sku: "MUG-1", name: "Mug", available: 100, unitPrice: { currencyCode: "EUR", amountMinor: 1250n } });
  }, 120_000);
  afterAll(() => shop?.stop(), 60_000);

  it("makes one CreateOrder that confirms one trace across orders, inventory and payments", async () => {
    await confirmedOrder(shop);
    const lastHop = (spans: ReadableSpan[]) => spans.some((s) => s.name === "process shop.orders.v1.OrderConfirmed" && s.kind === SpanKind.CONSUMER);
    const spans = await traceOfOnlyOrder(shop, lastHop);
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const roots = spans.filter((s) => parentOf(s) === undefined);
    expect(roots.map((s) => [serviceOf(s), s.name])).toEqual([["orders", "shop.orders.v1.OrdersService/CreateOrder"]]);
    // Nothing in the trace hangs off a span that is not in it: no hop broke the chain.
    expect(spans.filter((s) => parentOf(s) !== undefined && !byId.has(parentOf(s) ?? ""))).toEqual([]);
    expect(new Set(spans.map(serviceOf))).toEqual(new Set(["orders", "inventory", "payments"]));

    // The gRPC hop: orders' attempt (CLIENT) is the parent of inventory's SERVER span.
    const quoteServer = spans.find((s) => s.name === "shop.inventory.v1.InventoryService/QuoteItems" && s.kind === SpanKind.SERVER);
    const quoteAttempt = byId.get(parentOf(quoteServer as ReadableSpan) ?? "");
    expect([serviceOf(quoteServer as ReadableSpan), quoteAttempt?.kind, serviceOf(quoteAttempt as ReadableSpan), quoteAttempt?.attributes["protomesh.rpc.attempt"]]).toEqual([
      "inventory",
      SpanKind.CLIENT,
      "orders",
      1,
    ]);

    // Every JetStream hop: a consumer span in the consuming service under the producer's publish span.
    const hops = spans
      .filter((s) => s.kind === SpanKind.CONSUMER)
      .map((s) => {
        const producer = byId.get(parentOf(s) ?? "");
        return producer === undefined ? `(no producer) -> ${serviceOf(s)}` : `${serviceOf(producer)} ${producer.name} -> ${serviceOf(s)}`;
      });
    expect(new Set(hops)).toEqual(
      new Set([
        "orders publish shop.orders.v1.OrderPlaced -> inventory",
        "inventory publish shop.inventory.v1.StockReserved -> orders",
        "inventory publish shop.inventory.v1.StockReserved -> payments",
        "payments publish shop.payments.v1.PaymentCaptured -> orders",
        "orders publish shop.orders.v1.OrderConfirmed -> inventory",
      ]),
    );

    // The outbox: the publish of OrderPlaced continues the CreateOrder that wrote the row (the
    // context stored with the row), and links to the relay round that published it.
    const placed = spans.find((s) => s.name === "publish shop.orders.v1.OrderPlaced") as ReadableSpan;
    expect(byId.get(parentOf(placed) ?? "")?.name).toBe("shop.orders.v1.OrdersService/CreateOrder");
    expect(placed.links).toHaveLength(1);
    const rounds = (await shop.spans()).filter((s) => s.name === "outbox relay" && s.spanContext().spanId === placed.links[0]?.context.spanId);
    expect(rounds).toHaveLength(1);
    expect(rounds[0]?.links.map((l) => l.context.spanId)).toContain(parentOf(placed));
    // Each consumer's span is where its handler's own outbox write happened: the next publish hangs off it.
    const reservedPublish = spans.find((s) => s.name === "publish shop.inventory.v1.StockReserved") as ReadableSpan;
    expect(byId.get(parentOf(reservedPublish) ?? "")?.name).toBe("process shop.orders.v1.OrderPlaced");
  });

  it("serves RPC, client, outbox, consumer and saga metrics on each service's Prometheus endpoint", async () => {
    for (let i = 0; i < 3; i++) await confirmedOrder(shop);
    // A message no consumer can decode goes to the dead letters at once.
    const nc = await connect({ servers: shop.nats.url });
    const poison = headers();
    poison.set(EventHeaders.eventType, "shop.inventory.v1.NoSuchEvent");
    poison.set(EventHeaders.eventId, randomUUID());
    await jetstream(nc).publish("shop.inventory.v1.StockReserved", new Uint8Array([1, 2, 3]), { headers: poison });
    await nc.close();

    const metricsOf = (service: "orders" | "inventory" | "payments") => scrape(shop.services[service].telemetry.metricsUrl ?? "");
    let orders = await metricsOf("orders");
    for (const deadline = Date.now() + 15_000; Date.now() < deadline && sum(orders, "protomesh_consumer_dead_letters_total") === 0; await sleep(200)) orders = await metricsOf("orders");

    expect(sum(orders, "rpc_server_duration_count", { rpc_method: "CreateOrder", rpc_grpc_status_code: "0" })).toBeGreaterThanOrEqual(3);
    expect(sum(orders, "rpc_client_duration_count", { rpc_method: "QuoteItems", rpc_grpc_status_code: "0" })).toBeGreaterThanOrEqual(3);
    expect(sum(orders, "protomesh_client_endpoint_admitted", { server_address: shop.services.inventory.address })).toBe(1);
    expect(sum(orders, "protomesh_outbox_published_total", { protomesh_event_type: "shop.orders.v1.OrderPlaced" })).toBeGreaterThanOrEqual(3);
    expect(sum(orders, "protomesh_outbox_publish_lag_count")).toBeGreaterThanOrEqual(6);
    expect(names(orders)).toContain("protomesh_outbox_pending");
    expect(names(orders)).toContain("protomesh_outbox_oldest_pending_age");
    expect(sum(orders, "messaging_client_operation_duration_count", { messaging_destination_name: "shop.orders.v1.OrderConfirmed" })).toBeGreaterThanOrEqual(3);
    expect(sum(orders, "messaging_process_duration_count", { messaging_destination_name: "shop.payments.v1.PaymentCaptured", protomesh_outcome: "ack" })).toBeGreaterThanOrEqual(3);
    expect(sum(orders, "protomesh_consumer_dead_letters_total", { messaging_destination_name: "shop.inventory.v1.StockReserved" })).toBe(1);
    expect(sum(orders, "protomesh_saga_outcomes_total", { protomesh_saga_outcome: "confirmed" })).toBeGreaterThanOrEqual(3);
    expect(sum(orders, "protomesh_saga_duration_count", { protomesh_saga_outcome: "confirmed" })).toBeGreaterThanOrEqual(3);
    expect(sum(orders, "protomesh_saga_duration_sum", { protomesh_saga_outcome: "confirmed" })).toBeGreaterThan(0);

    const inventory = await metricsOf("inventory");
    expect(sum(inventory, "rpc_server_duration_count", { rpc_method: "QuoteItems", rpc_grpc_status_code: "0" })).toBeGreaterThanOrEqual(3);
    expect(sum(inventory, "messaging_process_duration_count", { messaging_destination_name: "shop.orders.v1.OrderPlaced" })).toBeGreaterThanOrEqual(3);
    const payments = await metricsOf("payments");
    expect(sum(payments, "protomesh_outbox_published_total", { protomesh_event_type: "shop.payments.v1.PaymentCaptured" })).toBeGreaterThanOrEqual(3);
    // Resource attributes reach Prometheus as target_info.
    expect(sum(payments, "target_info", { service_name: "payments" })).toBe(1);
  });
});
