import pg from "pg";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { createTestDatabase, processesMarkedBy, runMark, startNatsCluster, startNatsServer, startPostgresServer } from "./index.js";

describe("test helpers", () => {
  it("starts, restarts and disposes a private nats-server with JetStream", async () => {
    const server = await startNatsServer();
    try {
      const nc = await connect({ servers: server.url });
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "HELPER", subjects: ["helper.>"] });
      await nc.close();
      await server.restart();
      const nc2 = await connect({ servers: server.url });
      const info = await (await jetstreamManager(nc2)).streams.info("HELPER");
      expect(info.config.name).toBe("HELPER");
      await nc2.close();
    } finally {
      await server.dispose();
    }
  });

  it("starts, kills and restarts a private PostgreSQL", async () => {
    const server = await startPostgresServer();
    try {
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      await client.query("create table t (x int)");
      await client.end();
      await server.kill();
      await server.start();
      const again = new pg.Client({ connectionString: server.url });
      await again.connect();
      const { rows } = await again.query<{ n: string }>("select count(*) as n from t");
      expect(rows[0]?.n).toBe("0");
      await again.end();
    } finally {
      await server.dispose();
    }
  });

  it("creates and drops a throwaway database on the shared PostgreSQL", async () => {
    const db = await createTestDatabase("helpers");
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query("select 1");
    await client.end();
    await db.drop();
    const probe = new pg.Client({ connectionString: db.url });
    await expect(probe.connect()).rejects.toThrow(/does not exist/);
  });
});

describe("nats cluster helper", () => {
  it("starts a three-node JetStream cluster that holds a replicated stream", async () => {
    const cluster = await startNatsCluster(3);
    try {
      const nc = await connect({ servers: cluster.servers });
      const jsm = await jetstreamManager(nc);
      // The meta leader is elected shortly after the nodes report healthy.
      await expect
        .poll(() => jsm.streams.add({ name: "R3", subjects: ["r3.>"], num_replicas: 3 }).then(() => true, () => false), { timeout: 20_000 })
        .toBe(true);
      const info = await jsm.streams.info("R3");
      expect(info.cluster?.replicas?.length).toBe(2);
      await nc.close();
    } finally {
      await cluster.dispose();
    }
  });
});

describe("process marks", () => {
  it("finds a process by the mark in its environment, and no other", async () => {
    const { env, mark } = runMark("helpers");
    const marked = spawn("sleep", ["30"], { env: { ...process.env, ...env }, stdio: "ignore" });
    const unmarked = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      expect(await processesMarkedBy([mark])).toEqual([`${marked.pid}: sleep 30 `]);
      expect(await processesMarkedBy([runMark("helpers").mark])).toEqual([]);
    } finally {
      const exited = Promise.all([marked, unmarked].map((child) => new Promise((resolve) => child.once("exit", resolve))));
      marked.kill();
      unmarked.kill();
      await exited;
    }
    expect(await processesMarkedBy([mark])).toEqual([]);
  });
});
