import { describe, expect, it } from "vitest";
import { dependencyAt, reach, StartupError } from "./startup-failure.js";

// Drivers reject with what they like, plain objects included (PGlite's ErrnoError).
const failing = (error: unknown) => () =>
  new Promise<never>(() => {
    throw error;
  });
const nats = dependencyAt("NATS", "NATS_URL", ["nats://a:4222", "nats://b:4222"]);

describe("start-up failures", () => {
  it("name the dependency, its variable and value, without the password", () => {
    expect(nats).toBe("NATS at NATS_URL=nats://a:4222,nats://b:4222");
    expect(dependencyAt("PostgreSQL", "DATABASE_URL", "postgres://app:s3cret@db:5432/orders")).toBe("PostgreSQL at DATABASE_URL=postgres://app:***@db:5432/orders");
    expect(dependencyAt("PGlite", "DATA_DIR", ".data/orders")).toBe("PGlite at DATA_DIR=.data/orders");
  });

  it("say whether the dependency refused, did not answer within the bound, or failed otherwise", async () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { cause: Object.assign(new Error("connect"), { code: "ECONNREFUSED" }) });
    await expect(reach(nats, 5_000, failing(refused))).rejects.toThrow(new StartupError(`${nats} refused the connection`));
    await expect(reach(nats, 5_000, failing(Object.assign(new Error("timeout"), { name: "TimeoutError" })))).rejects.toThrow(`${nats} did not answer within 5 s`);
    await expect(reach("PostgreSQL at DATABASE_URL=postgres://db/x", 2_500, failing(new Error("timeout exceeded when trying to connect")))).rejects.toThrow(
      "PostgreSQL at DATABASE_URL=postgres://db/x did not answer within 2.5 s",
    );
    await expect(reach(nats, 5_000, failing(Object.assign(new Error("jetstream is not enabled"), { name: "JetStreamNotEnabled" })))).rejects.toThrow(
      `${nats} has JetStream off (run nats-server with -js)`,
    );
    await expect(reach(nats, 5_000, failing(Object.assign(new Error("getaddrinfo ENOTFOUND nats"), { code: "ENOTFOUND" })))).rejects.toThrow(`${nats}: its host name does not resolve`);
    await expect(reach("PostgreSQL at DATABASE_URL=postgres://db/x", 5_000, failing(new Error('database "x" does not exist')))).rejects.toThrow(
      'PostgreSQL at DATABASE_URL=postgres://db/x: database "x" does not exist',
    );
    await expect(reach("PGlite at DATA_DIR=/d", 5_000, failing({ name: "ErrnoError", errno: 54 }))).rejects.toThrow('PGlite at DATA_DIR=/d: ErrnoError {"name":"ErrnoError","errno":54}');
  });

  it("keep the driver's error as the cause", async () => {
    const cause = new Error("connection refused");
    await expect(reach(nats, 5_000, failing(cause))).rejects.toMatchObject({ name: "StartupError", cause });
  });
});
