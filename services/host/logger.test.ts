import "reflect-metadata";
import { Writable } from "node:stream";
import { Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { describe, expect, it } from "vitest";
import { createLogger, nestLogger } from "./logger.js";

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

  it("leaves a failed Nest bootstrap to its caller to report, once: Nest's own error line is dropped, its warnings are kept", async () => {
    const { lines, destination } = capture();
    const logger = nestLogger(createLogger("orders", "info", destination));
    @Module({ providers: [{ provide: "unreachable", useFactory: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:5432")) }] })
    class FailingModule {}
    await expect(NestFactory.createApplicationContext(FailingModule, { logger, abortOnError: false })).rejects.toThrow("connect ECONNREFUSED");
    logger.warn("a warning", "InstanceLoader");
    logger.error("an error", "EventTransport");
    expect(lines).toMatchObject([
      { level: 40, context: "InstanceLoader", msg: "a warning" },
      { level: 50, context: "EventTransport", msg: "an error" },
    ]);
  });
});
