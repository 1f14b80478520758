// A Nest microservice serving ItemService through @protomesh/server/nest's ConnectTransport.
import { Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { ConnectService, ConnectTransport } from "@protomesh/server/nest";
import { ItemService, type GetItemRequest } from "../../../test/contract/gen/protomesh/test/v1/item_pb.js";
import { itemAnswer, unimplemented } from "./item-answer.js";

@ConnectService(ItemService)
class ItemController {
  getItem(req: GetItemRequest) {
    return itemAnswer(req.itemId);
  }
  putItem() {
    return unimplemented();
  }
  deleteItem() {
    return unimplemented();
  }
  async *watchItems() {
    unimplemented();
  }
  putItems() {
    return unimplemented();
  }
  async *echo() {
    unimplemented();
  }
}

@Module({ controllers: [ItemController] })
class ItemModule {}

export async function start(port: number): Promise<void> {
  const transport = new ConnectTransport({ host: "127.0.0.1", port });
  await (await NestFactory.createMicroservice(ItemModule, { strategy: transport, logger: false })).listen();
}
