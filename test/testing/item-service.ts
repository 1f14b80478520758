// A correct ItemService of the toolkit's test contract, in memory, and that contract's
// descriptors as a released baseline: what the contract-check tests serve and compare with.
import { create, toBinary, type DescFile } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { file_protomesh_test_v1_item, ItemSchema, type ItemService, ItemState, type Item } from "../contract/gen/protomesh/test/v1/item_pb.js";

/** A correct ItemService, in memory. */
export function itemService(): ServiceImpl<typeof ItemService> {
  const items = new Map<string, Item>();
  return {
    getItem(request) {
      const item = items.get(request.itemId);
      if (item === undefined) throw new ConnectError(`item ${request.itemId} does not exist`, Code.NotFound);
      return { item };
    },
    putItem(request) {
      const item = create(ItemSchema, { itemId: `item-${items.size + 1}`, ownerId: request.ownerId, lines: request.lines, state: ItemState.ACTIVE, revision: 1, ...(request.price === undefined ? {} : { price: request.price }) });
      items.set(item.itemId, item);
      return { item };
    },
    deleteItem(request) {
      items.delete(request.itemId);
      return {};
    },
    async *watchItems(request) {
      for (const item of items.values()) if (item.ownerId === request.ownerId) yield { item };
    },
    async putItems(requests) {
      let count = 0;
      for await (const request of requests) if (request.item !== undefined) count++;
      return { count };
    },
    async *echo(requests) {
      for await (const request of requests) yield { text: request.text };
    },
  };
}

/** The released contract as `buf build -o` writes it: the file and everything it imports. */
export function baselineBytes(): Uint8Array {
  const files: DescFile[] = [];
  const add = (file: DescFile) => {
    if (files.includes(file)) return;
    file.dependencies.forEach(add);
    files.push(file);
  };
  add(file_protomesh_test_v1_item);
  return toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: files.map((f) => f.proto) }));
}
