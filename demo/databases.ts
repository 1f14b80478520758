// The demo's databases: one per service. With DATABASE_URL (a PostgreSQL server) each service
// gets a fresh database on it and may run several replicas; without it each service keeps an
// embedded PGlite directory, which only one process can open, so it runs one replica.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { createDatabase, dropDatabase, openDatabase, type Database } from "protomesh/kit/data";
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

export async function prepareDatabases(serverUrl: string | undefined): Promise<DemoDatabases> {
  if (serverUrl !== undefined && serverUrl !== "") {
    const run = randomBytes(3).toString("hex");
    const names = new Map(services.map((service) => [service, `protomesh_demo_${service}_${run}`]));
    const urls = new Map<ServiceName, string>();
    for (const [service, name] of names) urls.set(service, await createDatabase(serverUrl, name));
    return {
      kind: "postgres",
      envFor: (service) => ({ DATABASE_URL: urls.get(service) ?? "" }),
      open: (service) => openDatabase({ url: urls.get(service) ?? "" }),
      dispose: async () => {
        for (const name of names.values()) await dropDatabase(serverUrl, name);
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
