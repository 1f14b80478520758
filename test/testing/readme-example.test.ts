import { readFile } from "node:fs/promises";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { bindService, createConnectServer } from "@protomesh/server";
import { describe, expect, it } from "vitest";
import { ItemService } from "../contract/gen/protomesh/test/v1/item_pb.js";
import { baselineBytes, itemService } from "./item-service.js";
import { checkItemService } from "./readme-example.js";

describe("kit/testing/README.md", () => {
  it("shows the example that this test runs, verbatim", async () => {
    const readme = await readFile("kit/testing/README.md", "utf8");
    const example = await readFile("test/testing/readme-example.ts", "utf8");
    expect(/```ts example\n([\s\S]*?)```/.exec(readme)?.[1]).toBe(example);
  });

  it("passes a server that keeps its contract, with GetItem answering OK for the fixture", async () => {
    const server = createConnectServer([bindService(ItemService, itemService())], { host: "127.0.0.1", port: 0 });
    try {
      const { port } = await server.listen();
      const baseUrl = `http://127.0.0.1:${port}`;
      const put = await createClient(ItemService, createGrpcTransport({ baseUrl })).putItem({ ownerId: "ada", lines: [{ code: "MUG-1", quantity: 1 }] });
      expect(put.item?.itemId).toBe("item-1");
      const report = await checkItemService(baseUrl, baselineBytes());
      expect(report.findings).toEqual([]);
      expect(report.answers.GetItem).toEqual({ OK: 1, NotFound: 3 });
    } finally {
      await server.close();
    }
  });
});
