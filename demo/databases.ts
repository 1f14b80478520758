// The demo's databases: one per service. With DATABASE_URL (a PostgreSQL server) each service
// gets a fresh database on it and may run several replicas; without it each service keeps an
// embedded PGlite directory, which only one process can open, so it runs one replica.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { openDatabase, type Database } from "protomesh/kit/data";
import type { ServiceName } from "../services/saga/topology.js";

export interface DemoDatabases {
  kind: "postgres" | "pglite";
  /** Environment for a replica of `service`: DATABASE_URL or DATA_DIR. */
  envFor(service: ServiceName): Record<string, string>;
  /** Opens a service's database in this process (PGlite: only once its replicas have stopped). */
  open(service: ServiceName): Promise<Database>;
  dispose(): Promise<void>;
}

const services: ServiceName[] = ["orders", "inventory", "payments"];

async function admin(serverUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

export async function prepareDatabases(serverUrl: string | undefined): Promise<DemoDatabases> {
  if (serverUrl !== undefined && serverUrl !== "") {
    const run = randomBytes(3).toString("hex");
    const urls = new Map<ServiceName, string>();
    for (const service of services) {
      const name = `protomesh_demo_${service}_${run}`;
      await admin(serverUrl, `create database "${name}"`);
      const url = new URL(serverUrl);
      url.pathname = `/${name}`;
      urls.set(service, url.toString());
    }
    return {
      kind: "postgres",
      envFor: (service) => ({ DATABASE_URL: urls.get(service) ?? "" }),
      open: (service) => openDatabase({ url: urls.get(service) ?? "" }),
      dispose: async () => {
        for (const url of urls.values()) await admin(serverUrl, `drop database if exists "${new URL(url).pathname.slice(1)}" with (force)`);
      },
    };
  }
  const root = await mkdtemp(join(tmpdir(), "protomesh-demo-data-"));
  return {
    kind: "pglite",
    envFor: (service) => ({ DATA_DIR: join(root, service) }),
    open: (service) => openDatabase({ dataDir: join(root, service) }),
    dispose: () => rm(root, { recursive: true, force: true }),
  };
}
