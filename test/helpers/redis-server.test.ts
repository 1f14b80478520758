import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { startRedisServer, type RedisServer } from "./index.js";

describe("private redis-server", () => {
  let server: RedisServer | undefined;
  afterAll(async () => server?.dispose());

  it("starts empty on a free port, loses its keys when killed, and comes back on the same port", async () => {
    server = await startRedisServer();
    const client = new Redis(server.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    try {
      await client.connect();
      await client.set("k", "v");
      expect(await client.get("k")).toBe("v");
      await server.kill();
      await expect(client.get("k")).rejects.toThrow();
      await server.start();
      await expect.poll(() => client.get("k").catch(() => "error"), { timeout: 10_000 }).toBe(null);
    } finally {
      client.disconnect();
    }
  });
});
