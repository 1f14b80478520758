// Nest's own gRPC transport (grpc-js + proto-loader) serving ItemService from its .proto, as a
// Nest user sets it up. Paths are relative to the repository, the process's working directory.
import "reflect-metadata";
import { Controller, Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { GrpcMethod, Transport } from "@nestjs/microservices";
import { itemAnswer } from "./item-answer.js";

@Controller()
class ItemController {
  @GrpcMethod("ItemService", "GetItem")
  getItem(req: { itemId: string }) {
    return itemAnswer(req.itemId);
  }
}

@Module({ controllers: [ItemController] })
class ItemModule {}

export async function start(port: number): Promise<void> {
  const options = {
    url: `127.0.0.1:${port}`,
    package: "protomesh.test.v1",
    protoPath: "protomesh/test/v1/item.proto",
    loader: { keepCase: false, includeDirs: ["test/contract/proto", "proto-vendor"] },
  };
  await (await NestFactory.createMicroservice(ItemModule, { transport: Transport.GRPC, options, logger: false })).listen();
}
