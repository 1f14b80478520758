import { readFile } from "node:fs/promises";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import { PaymentsService } from "protomesh/gen/shop/payments/v1/payments_pb";
import { main } from "./doc-example.js";

describe("docs/writing-a-service.md", () => {
  it("shows the example that this test runs, verbatim", async () => {
    const doc = await readFile("docs/writing-a-service.md", "utf8");
    const example = await readFile("test/transport/doc-example.ts", "utf8");
    const block = /```ts example\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block).toBe(example);
  });

  it("serves the example over gRPC", async () => {
    const { app, transport } = await main({ host: "127.0.0.1", port: 0 });
    try {
      const client = createClient(PaymentsService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${transport.address()?.port}` }));
      const res = await client.listPaymentsForOrder({ orderId: "0b6f1c2e-3d4a-4b5c-8d9e-0f1a2b3c4d5e" });
      expect(res.payments).toHaveLength(1);
      const missing = await client.getPayment({ paymentId: "00000000-0000-4000-8000-000000000000" }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(missing?.code).toBe(Code.NotFound);
    } finally {
      await app.close();
    }
  });
});
