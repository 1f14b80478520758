// The instrumented bus on the in-memory broker: a publish continues the trace stored with its
// message, every delivery of it is a consumer span under that publish (redeliveries included),
// and redeliveries and dead letters are counted. Spans reach an OTLP collector when asked.
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { create, createRegistry, toBinary } from "@bufbuild/protobuf";
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { file_shop_orders_v1_events, OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { createEventConsumer, createMemoryBus, createMemoryDeadLetters, EventHeaders } from "@protomesh/messaging";
import { startTelemetry } from "@protomesh/telemetry";
import { freePort } from "../helpers/index.js";
import { scrape, sum } from "./prometheus.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("bus telemetry", () => {
  it("puts every delivery of a message under its publish span and counts the redelivery and the dead letter", async () => {
    const spans = new InMemorySpanExporter();
    const telemetry = await startTelemetry({ service: "inventory", spanExporter: spans, metricsPort: await freePort() }, {});
    cleanups.push(() => telemetry.shutdown());
    const bus = telemetry.instrumentBus(createMemoryBus());
    cleanups.push(() => bus.close());
    await bus.ensureStream({ name: "SHOP_ORDERS", subjects: ["shop.orders.v1.>"] });

    const deadLetters = createMemoryDeadLetters();
    const consumer = createEventConsumer(
      { subscriber: bus, registry: createRegistry(file_shop_orders_v1_events), deadLetters },
      { stream: "SHOP_ORDERS", durable: "inventory_order_placed", filterSubject: "shop.orders.v1.OrderPlaced", maxDeliver: 2, nakBackoff: { initialDelayMs: 1, maxDelayMs: 5 } },
      () => Promise.reject(new Error("stock table locked")),
    );
    await consumer.start();
    cleanups.push(() => consumer.stop());

    // The writer's span, as an outbox row would have stored it.
    const writers = new BasicTracerProvider();
    const writer = writers.getTracer("test").startSpan("write order");
    const headers: Record<string, string> = { [EventHeaders.eventType]: OrderPlacedSchema.typeName, [EventHeaders.eventId]: randomUUID() };
    propagation.inject(trace.setSpan(context.active(), writer), headers);
    writer.end();
    const data = toBinary(OrderPlacedSchema, create(OrderPlacedSchema, { orderId: "o-1" }));
    await bus.publish({ subject: OrderPlacedSchema.typeName, data, headers, messageId: headers[EventHeaders.eventId] ?? "" });

    for (const deadline = Date.now() + 10_000; deadLetters.letters.length === 0 && Date.now() < deadline; ) await sleep(10);
    expect(deadLetters.letters).toHaveLength(1);
    // The dead letter keeps the publish's trace context, so a replay can continue the trace.
    expect(deadLetters.letters[0]?.headers["traceparent"]).toMatch(new RegExp(`^00-${writer.spanContext().traceId}-`));
    await telemetry.forceFlush();

    const finished = spans.getFinishedSpans();
    const publish = finished.find((s) => s.kind === SpanKind.PRODUCER);
    expect([publish?.name, publish?.parentSpanContext?.spanId, publish?.spanContext().traceId]).toEqual([
      "publish shop.orders.v1.OrderPlaced",
      writer.spanContext().spanId,
      writer.spanContext().traceId,
    ]);
    const deliveries = finished.filter((s) => s.kind === SpanKind.CONSUMER).sort((a, b) => Number(a.attributes["protomesh.delivery.count"]) - Number(b.attributes["protomesh.delivery.count"]));
    expect(
      deliveries.map((s) => [s.name, s.parentSpanContext?.spanId, s.attributes["protomesh.delivery.count"], s.attributes["protomesh.outcome"], s.status.code, s.events.map((e) => e.name)]),
    ).toEqual([
      ["process shop.orders.v1.OrderPlaced", publish?.spanContext().spanId, 1, "nak", SpanStatusCode.ERROR, ["exception"]],
      ["process shop.orders.v1.OrderPlaced", publish?.spanContext().spanId, 2, "term", SpanStatusCode.ERROR, ["exception"]],
    ]);

    const metrics = await scrape(telemetry.metricsUrl ?? "");
    const labels = { messaging_destination_name: "shop.orders.v1.OrderPlaced", messaging_consumer_group_name: "inventory_order_placed" };
    expect(sum(metrics, "protomesh_consumer_redeliveries_total", labels)).toBe(1);
    expect(sum(metrics, "protomesh_consumer_dead_letters_total", labels)).toBe(1);
    expect(sum(metrics, "messaging_process_duration_count", { ...labels, protomesh_outcome: "nak" })).toBe(1);
    expect(sum(metrics, "messaging_process_duration_count", { ...labels, protomesh_outcome: "term" })).toBe(1);
    expect(sum(metrics, "messaging_client_operation_duration_count", { messaging_destination_name: "shop.orders.v1.OrderPlaced" })).toBe(1);
  });
});

describe("OTLP export", () => {
  it("sends spans over OTLP/HTTP protobuf to OTEL_EXPORTER_OTLP_ENDPOINT, with the service's resource", async () => {
    const received: { path: string | undefined; type: string | undefined; body: Buffer }[] = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        received.push({ path: req.url, type: req.headers["content-type"], body: Buffer.concat(chunks) });
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => collector.close(resolve)));
    const { port } = collector.address() as AddressInfo;

    const telemetry = await startTelemetry({ service: "payments" }, { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}/` });
    cleanups.push(() => telemetry.shutdown());
    expect([telemetry.tracing, telemetry.metrics]).toEqual([true, false]);
    const bus = telemetry.instrumentBus(createMemoryBus());
    cleanups.push(() => bus.close());
    await bus.ensureStream({ name: "SHOP_PAYMENTS", subjects: ["shop.payments.v1.>"] });
    await bus.publish({ subject: "shop.payments.v1.PaymentCaptured", data: new Uint8Array(), headers: {}, messageId: randomUUID() });
    await telemetry.forceFlush();

    expect(received.map((r) => [r.path, r.type])).toEqual([["/v1/traces", "application/x-protobuf"]]);
    // Protobuf keeps strings as they are: the span's name and the resource are in the body.
    const body = received[0]?.body.toString("latin1") ?? "";
    expect(body).toContain("publish shop.payments.v1.PaymentCaptured");
    expect(body).toContain("service.name");
    expect(body).toContain("payments");
  });
});
