import "reflect-metadata";
import { defaultPgliteCacheDir, openDatabase, type Database } from "@protomesh/data";
import { createMemoryBus, type EventBus } from "@protomesh/messaging";
import { startNotesService } from "../src/app.js";
import type { EventsConfig } from "../src/config.js";

export interface TestService {
  address: string;
  database: Database;
  stop(): Promise<void>;
}

/**
 * The service on a free port and a new in-memory PGlite database with the migrations applied.
 * Events go to `bus` (an in-memory JetStream fake unless given), whose stream it creates, unless
 * `relay` is false.
 */
export async function startTestService(options: { bus?: EventBus; events?: EventsConfig; relay?: boolean } = {}): Promise<TestService> {
  const events = options.events ?? { stream: "NOTES", subjectPrefix: "notes" };
  const bus = options.bus ?? createMemoryBus();
  await bus.ensureStream({ name: events.stream, subjects: [`${events.subjectPrefix}.>`] });
  const database = await openDatabase({ pgliteCacheDir: defaultPgliteCacheDir(), migrationsFolder: "migrations" });
  const service = await startNotesService({ host: "127.0.0.1", port: 0, database, bus, events, relay: options.relay ?? true });
  return {
    address: service.address,
    database,
    async stop() {
      await service.stop();
      if (options.bus === undefined) await bus.close();
      await database.close();
    },
  };
}
