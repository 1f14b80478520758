import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { findNats, NoNatsError } from "./nats.js";

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("finding NATS for the demo", () => {
  it("uses NATS_URL, and says so clearly when nothing answers there", async () => {
    const port = await closedPort();
    await expect(findNats({ NATS_URL: `nats://127.0.0.1:${port}` })).rejects.toThrow(new NoNatsError(`NATS_URL is nats://127.0.0.1:${port}, but nothing answers there; start that server or unset NATS_URL`));
  });

  it("starts a nats-server from the PATH when none runs, and stops it afterwards", async () => {
    const nats = await findNats({}, { localPort: await closedPort() });
    expect(nats.origin).toBe("started");
    await nats.stop();
  });

  it("explains how to get NATS when none runs and none is installed", async () => {
    await expect(findNats({}, { localPort: await closedPort(), binary: "/nonexistent/nats-server" })).rejects.toThrow(/^no NATS server: set NATS_URL, run nats-server -js on 127.0.0.1:4222, or install nats-server/);
  });
});
