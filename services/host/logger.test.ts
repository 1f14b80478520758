import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, destination };
}

describe("service logger", () => {
  it("logs objects outside any trace, line after line, without trace fields or secrets", () => {
    const { lines, destination } = capture();
    const logger = createLogger("orders", "info", destination);
    logger.info({ address: "127.0.0.1:50051" }, "listening");
    logger.warn({ redis: { password: "hunter2" }, attempt: 2 }, "cache unavailable");
    expect(lines).toMatchObject([
      { service: "orders", address: "127.0.0.1:50051", msg: "listening" },
      { service: "orders", redis: { password: "[redacted]" }, attempt: 2, msg: "cache unavailable" },
    ]);
    expect(lines.some((line) => "trace_id" in line || "address" in line && "attempt" in line)).toBe(false);
  });
});
