// Client and server telemetry on real HTTP/2: a retried call shows each attempt and the server
// span each one caused; log lines carry the trace; with telemetry off nothing is added to calls.
import { Writable } from "node:stream";
import { Code, ConnectError, createClient, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "@protomesh/clients/health";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { InventoryService, type GetStockRequest } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { clientTransport, closeClient } from "@protomesh/clients";
import { createInventoryClient } from "../../services/clients.js";
import { createConnectServer, type ConnectServer } from "@protomesh/server";
import { disabledTelemetry, startTelemetry, type Telemetry } from "@protomesh/telemetry";
import { createLogger } from "../../services/host/logger.js";
import { freePort } from "../helpers/index.js";
import { scrape, sum } from "./prometheus.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An inventory whose GetStock fails with Unavailable `failures` times, then answers; it logs each call. */
async function flakyInventory(telemetry: Telemetry, failures: number, log: (message: string) => void) {
  const seen: { traceparent: string | null; baggage: string | null }[] = [];
  const impl: Partial<ServiceImpl<typeof InventoryService>> = {
    getStock(request: GetStockRequest, context: HandlerContext) {
      seen.push({ traceparent: context.requestHeader.get("traceparent"), baggage: context.requestHeader.get("baggage") });
      log(`stock asked for ${request.sku}`);
      if (seen.length <= failures) throw new ConnectError("warming up", Code.Unavailable);
      return { item: { sku: request.sku, name: "Mug", available: 3 } };
    },
  };
  const server: ConnectServer = createConnectServer(
    [{ service: InventoryService, impl }],
    { host: "127.0.0.1", port: 0, reflection: false, ...(telemetry.serverInterceptor === undefined ? {} : { observe: telemetry.serverInterceptor }) },
  );
  const address = await server.listen();
  cleanups.push(() => server.close());
  return { address: `127.0.0.1:${address.port}`, seen };
}

function clientOf(address: string) {
  const client = createInventoryClient({ target: address, healthCheck: false, retry: { initialBackoffMs: 5, maxBackoffMs: 10 } });
  cleanups.push(() => closeClient(client));
  return client;
}

async function started(options: Parameters<typeof startTelemetry>[0]): Promise<Telemetry> {
  const telemetry = await startTelemetry(options, {});
  cleanups.push(() => telemetry.shutdown());
  return telemetry;
}

describe("RPC telemetry", () => {
  it("shows a retried call as one call span with an attempt span per try, each continued by the server", async () => {
    const serverSpans = new InMemorySpanExporter();
    const clientSpans = new InMemorySpanExporter();
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger("inventory", "info", new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) }));
    const server = await started({ service: "inventory", spanExporter: serverSpans, metricsPort: await freePort() });
    const inventory = await flakyInventory(server, 1, (message) => logger.info(message));
    const caller = await started({ service: "orders", spanExporter: clientSpans, metricsPort: await freePort() });
    const client = clientOf(inventory.address);

    const { item } = await caller.run(() => client.getStock({ sku: "MUG-1" }));
    expect(item?.available).toBe(3);
    await caller.forceFlush();
    await server.forceFlush();

    const spans = clientSpans.getFinishedSpans();
    const call = spans.find((s) => s.kind === SpanKind.INTERNAL) as ReadableSpan;
    const attempts = spans.filter((s) => s.kind === SpanKind.CLIENT).sort((a, b) => Number(a.attributes["protomesh.rpc.attempt"]) - Number(b.attributes["protomesh.rpc.attempt"]));
    expect([call.name, call.attributes["protomesh.rpc.attempts"], call.attributes["rpc.grpc.status_code"], call.status.code]).toEqual([
      "shop.inventory.v1.InventoryService/GetStock",
      2,
      0,
      SpanStatusCode.UNSET,
    ]);
    expect(call.events.map((e) => [e.name, e.attributes?.["protomesh.rpc.attempt"], e.attributes?.["rpc.grpc.status_code"]])).toEqual([["retry", 2, Code.Unavailable]]);
    expect(attempts.map((a) => [a.parentSpanContext?.spanId === call.spanContext().spanId, a.attributes["rpc.grpc.status_code"], a.status.code])).toEqual([
      [true, Code.Unavailable, SpanStatusCode.ERROR],
      [true, 0, SpanStatusCode.UNSET],
    ]);

    // Each attempt carried its own traceparent; the server span of each try is its child.
    expect(inventory.seen.map((s) => s.traceparent?.split("-")[2])).toEqual(attempts.map((a) => a.spanContext().spanId));
    const served = serverSpans.getFinishedSpans().sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
    expect(served.map((s) => [s.kind, s.spanContext().traceId, s.parentSpanContext?.spanId, s.attributes["rpc.grpc.status_code"]])).toEqual(
      attempts.map((a) => [SpanKind.SERVER, call.spanContext().traceId, a.spanContext().spanId, a.attributes["rpc.grpc.status_code"]]),
    );

    // The handler's log lines name the trace and the server span they were written in.
    expect(lines.map((l) => [l.msg, l.service, l.trace_id, l.span_id])).toEqual(served.map((s) => ["stock asked for MUG-1", "inventory", s.spanContext().traceId, s.spanContext().spanId]));

    // Health checks are measured but not traced: probes every few seconds would bury the traces.
    const health = createClient(Health, createGrpcTransport({ baseUrl: `http://${inventory.address}` }));
    await health.check({ service: "" });
    await server.forceFlush();
    expect(serverSpans.getFinishedSpans().map((s) => s.name)).not.toContain("grpc.health.v1.Health/Check");

    const metrics = await scrape(caller.metricsUrl ?? "");
    expect(sum(metrics, "protomesh_client_retries_total", { rpc_method: "shop.inventory.v1.InventoryService/GetStock", rpc_grpc_status_code: String(Code.Unavailable) })).toBe(1);
    expect(sum(metrics, "rpc_client_duration_count", { rpc_method: "GetStock", rpc_grpc_status_code: "0" })).toBe(1);
    expect(sum(metrics, "protomesh_client_endpoint_admitted", { server_address: inventory.address })).toBe(1);
    expect(clientTransport(client).snapshot()).toHaveLength(1);
    const serverMetrics = await scrape(server.metricsUrl ?? "");
    expect(sum(serverMetrics, "rpc_server_duration_count", { rpc_method: "GetStock", rpc_grpc_status_code: String(Code.Unavailable) })).toBe(1);
    expect(sum(serverMetrics, "rpc_server_duration_count", { rpc_method: "GetStock", rpc_grpc_status_code: "0" })).toBe(1);
    expect(sum(serverMetrics, "rpc_server_duration_count", { rpc_service: "grpc.health.v1.Health", rpc_method: "Check" })).toBe(1);
  });

  it("reports a circuit that opened and its calls' codes", async () => {
    const inventory = await flakyInventory(disabledTelemetry("inventory"), Number.POSITIVE_INFINITY, () => undefined);
    const caller = await started({ service: "orders", metricsPort: await freePort() });
    const client = createInventoryClient({ target: inventory.address, healthCheck: false, retry: false, circuitBreaker: { failureThreshold: 2, openMs: 60_000 } });
    cleanups.push(() => closeClient(client));
    for (let i = 0; i < 3; i++) await expect(caller.run(() => client.getStock({ sku: "MUG-1" }))).rejects.toMatchObject({ code: Code.Unavailable });
    expect(inventory.seen).toHaveLength(2);

    const metrics = await scrape(caller.metricsUrl ?? "");
    const circuit = { protomesh_circuit: "shop.inventory.v1.InventoryService/GetStock" };
    expect(sum(metrics, "protomesh_client_circuit_state", circuit)).toBe(2);
    expect(sum(metrics, "protomesh_client_circuit_transitions_total", { ...circuit, protomesh_circuit_state: "open" })).toBe(1);
    expect(sum(metrics, "rpc_client_duration_count", { rpc_method: "GetStock", rpc_grpc_status_code: String(Code.Unavailable) })).toBe(3);
  });

  it("adds nothing to calls and makes no span when telemetry is off", async () => {
    const off = await startTelemetry({ service: "orders" }, {});
    expect(off).toMatchObject({ tracing: false, metrics: false, metricsUrl: undefined, serverInterceptor: undefined });
    expect(Object.keys(off).sort()).toEqual(Object.keys(disabledTelemetry("orders")).sort());
    const inventory = await flakyInventory(off, 0, () => undefined);
    const client = clientOf(inventory.address);
    await off.run(() => client.getStock({ sku: "MUG-1" }));
    expect(inventory.seen).toEqual([{ traceparent: null, baggage: null }]);
  });

  it("reads METRICS_PORT and refuses a bad one by name", async () => {
    await expect(startTelemetry({ service: "orders" }, { METRICS_PORT: "http" })).rejects.toThrow(/METRICS_PORT must be a port number/);
    const port = await freePort();
    const fromEnv = await started({ service: "orders" });
    expect(fromEnv.metricsUrl).toBeUndefined();
    const telemetry = await startTelemetry({ service: "orders" }, { METRICS_PORT: String(port) });
    cleanups.push(() => telemetry.shutdown());
    expect(telemetry.metricsUrl).toBe(`http://127.0.0.1:${port}/metrics`);
    expect(sum(await scrape(telemetry.metricsUrl ?? ""), "target_info", { service_name: "orders" })).toBe(1);
  });
});
