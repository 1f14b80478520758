import { describe, expect, it } from "vitest";
import { loadOrdersConfig } from "../orders/config.js";
import { loadPaymentsConfig } from "../payments/config.js";
import { loadInventoryConfig } from "../inventory/config.js";
import { ConfigError } from "./env-config.js";

function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("service configuration", () => {
  it("has working defaults with nothing set: PGlite under .data/<service>, local NATS, cleartext", () => {
    const config = loadInventoryConfig({});
    expect(config).toMatchObject({
      host: "127.0.0.1",
      port: 50052,
      tls: undefined,
      database: { dataDir: ".data/inventory" },
      natsServers: ["nats://127.0.0.1:4222"],
      redisUrl: undefined,
      connectTimeoutMs: 5_000,
      shutdownGraceMs: 10_000,
      paths: [{ variable: "DATA_DIR", path: ".data/inventory", holds: "directory" }],
    });
  });

  it("leaves the server limits at the toolkit's defaults unless a SERVER_* variable sets one", () => {
    expect(loadInventoryConfig({}).serverLimits).toEqual({});
    expect(loadInventoryConfig({ SERVER_MAX_CONCURRENT_CALLS: "2000", SERVER_REQUEST_TIMEOUT_MS: "30000" }).serverLimits).toEqual({ maxConcurrentCalls: 2000, requestTimeoutMs: 30_000 });
    expect(problemsOf(() => loadInventoryConfig({ SERVER_MAX_CONNECTIONS: "0", SERVER_IDLE_TIMEOUT_MS: "soon" }))).toEqual([
      'SERVER_MAX_CONNECTIONS: must be at least 1 (got "0")',
      'SERVER_IDLE_TIMEOUT_MS: must be a whole number (got "soon")',
    ]);
  });

  it("reads every variable it documents", () => {
    const config = loadOrdersConfig({
      PORT: "6000",
      DATABASE_URL: "postgres://postgres@127.0.0.1:5432/orders",
      DATABASE_POOL_SIZE: "4",
      NATS_URL: "nats://a:4222, nats://b:4222",
      TLS_CERT_FILE: "/certs/orders.pem",
      TLS_KEY_FILE: "/certs/orders.key",
      TLS_CA_FILE: "/certs/ca.pem",
      INVENTORY_TARGET: "inventory-0:50052,inventory-1:50052",
      SAGA_DEADLINE_MS: "5000",
    });
    expect(config).toMatchObject({
      port: 6000,
      database: { url: "postgres://postgres@127.0.0.1:5432/orders", poolSize: 4 },
      natsServers: ["nats://a:4222", "nats://b:4222"],
      tls: { certFile: "/certs/orders.pem", keyFile: "/certs/orders.key", caFile: "/certs/ca.pem" },
      inventory: { target: ["inventory-0:50052", "inventory-1:50052"], tls: { certFile: "/certs/orders.pem", caFile: "/certs/ca.pem" } },
      saga: { deadlineMs: 5000, sweepIntervalMs: 1000 },
      paths: [
        { variable: "TLS_CERT_FILE", path: "/certs/orders.pem", holds: "certificates" },
        { variable: "TLS_KEY_FILE", path: "/certs/orders.key", holds: "private key" },
        { variable: "TLS_CA_FILE", path: "/certs/ca.pem", holds: "certificates" },
      ],
    });
  });

  it("names each bad variable and what is wrong with it", () => {
    expect(problemsOf(() => loadInventoryConfig({ PORT: "http", DATABASE_URL: "mysql://x" }))).toEqual([
      'PORT: must be a port number (got "http")',
      'DATABASE_URL: must be a URL starting with postgres:// or postgresql:// (got "mysql://x")',
    ]);
    expect(problemsOf(() => loadInventoryConfig({ DATABASE_POOL_SIZE: "0" }))).toEqual([expect.stringMatching(/^DATABASE_POOL_SIZE: /)]);
    expect(problemsOf(() => loadInventoryConfig({ PORT: "70000" }))).toEqual(['PORT: must be an integer between 0 and 65535 (got "70000")']);
    expect(problemsOf(() => loadInventoryConfig({ TLS_CERT_FILE: "/c.pem" }))).toEqual(['TLS_KEY_FILE: TLS_CERT_FILE and TLS_KEY_FILE must be set together']);
    expect(problemsOf(() => loadPaymentsConfig({ PAYMENT_DECLINE_RATE: "20%" }))).toEqual(['PAYMENT_DECLINE_RATE: must be a number (got "20%")']);
    expect(problemsOf(() => loadOrdersConfig({ INVENTORY_TARGET: "http://inventory" }))).toEqual(['INVENTORY_TARGET: each entry must be host:port; "http://inventory" is not (got "http://inventory")']);
    expect(problemsOf(() => loadInventoryConfig({ CONNECT_TIMEOUT_MS: "50" }))).toEqual(['CONNECT_TIMEOUT_MS: must be at least 100 ms (got "50")']);
  });

  it("refuses a NATS_URL entry that is not a NATS server, naming it", () => {
    expect(problemsOf(() => loadInventoryConfig({ NATS_URL: "foo bar" }))).toEqual([
      'NATS_URL: each entry must be nats://host:port or tls://host:port (or host:port); "foo bar" is not (got "foo bar")',
    ]);
    expect(problemsOf(() => loadInventoryConfig({ NATS_URL: "nats://a:4222,http://b:4222" }))).toEqual([
      'NATS_URL: each entry must be nats://host:port or tls://host:port (or host:port); "http://b:4222" is not (got "nats://a:4222,http://b:4222")',
    ]);
    expect(problemsOf(() => loadInventoryConfig({ NATS_URL: "nats://:4222" }))).toHaveLength(1);
    expect(problemsOf(() => loadInventoryConfig({ NATS_URL: "nats://a:4222/path" }))).toHaveLength(1);
    expect(loadInventoryConfig({ NATS_URL: "nats://user:pw@a:4222, tls://b:4443,c:4222,d" }).natsServers).toEqual(["nats://user:pw@a:4222", "tls://b:4443", "c:4222", "d"]);
  });

  it("lists the files and directories the variables name, for the check at start-up", () => {
    expect(loadInventoryConfig({ DATA_DIR: "memory" }).paths).toEqual([]);
    expect(loadInventoryConfig({ DATABASE_URL: "postgres://postgres@db/inventory", DATA_DIR: "/var/lib/inventory" }).paths).toEqual([]);
    expect(loadOrdersConfig({ DATA_DIR: "memory", CLIENT_CA_FILE: "/certs/inventory-ca.pem" }).paths).toEqual([{ variable: "CLIENT_CA_FILE", path: "/certs/inventory-ca.pem", holds: "certificates" }]);
  });

  it("treats an empty variable as unset", () => {
    expect(loadPaymentsConfig({ PORT: "", PAYMENT_LIMIT_MINOR: "" }).port).toBe(50053);
  });
});
