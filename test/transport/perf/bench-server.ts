// One of the servers compared by cpu-per-call.ts, serving InventoryService.GetStock:
//   connect    ConnectTransport in a Nest app (the lean gRPC path takes these calls)
//   core       createConnectServer without Nest
//   bare       connect-node's adapter on node:http2, nothing else
//   nest-grpc  Nest's built-in gRPC transport (grpc-js + proto-loader)
// Prints "ready"; on SIGUSR2 prints "cpu <µs> calls <n>" (cumulative).
import "reflect-metadata";
import http2 from "node:http2";
import { Controller, Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { GrpcMethod, Transport } from "@nestjs/microservices";
import type { ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { bindService, ConnectService, ConnectTransport, createConnectServer } from "protomesh/kit/connect";
import { InventoryService, type GetStockRequest } from "protomesh/gen/shop/inventory/v1/inventory_pb";

const [kind = "connect", portText = "50051"] = process.argv.slice(2);
const port = Number(portText);
let calls = 0;

const impl: ServiceImpl<typeof InventoryService> = {
  getStock(req: GetStockRequest) {
    calls++;
    return { item: { sku: req.sku, name: "thing", available: 5 } };
  },
  quoteItems: () => ({}),
  setStock: () => ({}),
  adjustStock: () => ({}),
};

@ConnectService(InventoryService)
class ConnectInventory implements ServiceImpl<typeof InventoryService> {
  getStock(req: GetStockRequest) {
    calls++;
    return { item: { sku: req.sku, name: "thing", available: 5 } };
  }
  quoteItems() {
    return {};
  }
  setStock() {
    return {};
  }
  adjustStock() {
    return {};
  }
}

@Controller()
class NestGrpcInventory {
  @GrpcMethod("InventoryService", "GetStock")
  getStock(req: { sku: string }) {
    calls++;
    return { item: { sku: req.sku, name: "thing", available: 5 } };
  }
}

@Module({ controllers: [ConnectInventory] })
class ConnectModule {}

@Module({ controllers: [NestGrpcInventory] })
class NestGrpcModule {}

process.on("SIGUSR2", () => {
  const usage = process.cpuUsage();
  console.log(`cpu ${usage.user + usage.system} calls ${calls}`);
});
process.on("SIGINT", () => process.exit(0));

switch (kind) {
  case "bare": {
    const server = http2.createServer(connectNodeAdapter({ routes: (router) => router.service(InventoryService, impl) }));
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    break;
  }
  case "core":
    await createConnectServer([bindService(InventoryService, impl)], { host: "127.0.0.1", port }).listen();
    break;
  case "connect": {
    const transport = new ConnectTransport({ host: "127.0.0.1", port });
    await (await NestFactory.createMicroservice(ConnectModule, { strategy: transport, logger: false })).listen();
    break;
  }
  case "nest-grpc": {
    const options = {
      url: `127.0.0.1:${port}`,
      package: "shop.inventory.v1",
      protoPath: "shop/inventory/v1/inventory.proto",
      loader: { includeDirs: ["proto", "proto-vendor"] },
    };
    await (await NestFactory.createMicroservice(NestGrpcModule, { transport: Transport.GRPC, options, logger: false })).listen();
    break;
  }
  default:
    throw new Error(`unknown server kind ${kind}`);
}
console.log("ready");
