// EVENT_BUS and EVENT_REDIS_URL: how a deployment picks Redis Streams for its saga events.
import { describe, expect, it } from "vitest";
import { isConfigError } from "../../services/config/index.js";
import { loadInventoryConfig } from "../../services/inventory/config.js";

function problemsOf(vars: Record<string, string>): string[] {
  try {
    loadInventoryConfig(vars);
  } catch (error) {
    if (isConfigError(error)) return error.problems;
    throw error;
  }
  return [];
}

describe("EVENT_BUS configuration", () => {
  it("keeps JetStream unless told otherwise", () => {
    expect(loadInventoryConfig({}).eventBus).toEqual({ kind: "jetstream" });
  });

  it("puts events on Redis Streams at EVENT_REDIS_URL, else at REDIS_URL", () => {
    expect(loadInventoryConfig({ EVENT_BUS: "redis", REDIS_URL: "redis://cache:6379" }).eventBus).toEqual({ kind: "redis", url: "redis://cache:6379", variable: "REDIS_URL" });
    expect(loadInventoryConfig({ EVENT_BUS: "redis", REDIS_URL: "redis://cache:6379", EVENT_REDIS_URL: "redis://events:6379" }).eventBus).toEqual({
      kind: "redis",
      url: "redis://events:6379",
      variable: "EVENT_REDIS_URL",
    });
  });

  it("names what is missing or wrong", () => {
    expect(problemsOf({ EVENT_BUS: "redis" })).toEqual([`EVENT_BUS: redis needs EVENT_REDIS_URL (or REDIS_URL) (got "redis")`]);
    expect(problemsOf({ EVENT_BUS: "kafka" })).toEqual(['EVENT_BUS: must be "jetstream" or "redis" (got "kafka")']);
  });
});
