// createConnectServer with ItemService bound, nothing else: the toolkit's server without Nest.
import { bindService, createConnectServer } from "@protomesh/server";
import { ItemService } from "../../../test/contract/gen/protomesh/test/v1/item_pb.js";
import { itemAnswer, unimplemented } from "./item-answer.js";

export async function start(port: number): Promise<void> {
  const server = createConnectServer(
    [
      bindService(ItemService, {
        getItem: (req) => itemAnswer(req.itemId),
        putItem: unimplemented,
        deleteItem: unimplemented,
        async *watchItems() {
          unimplemented();
        },
        putItems: unimplemented,
        async *echo() {
          unimplemented();
        },
      }),
    ],
    { host: "127.0.0.1", port },
  );
  await server.listen();
}
