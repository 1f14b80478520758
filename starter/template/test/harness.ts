import "reflect-metadata";
import type { INestMicroservice } from "@nestjs/common";
import { defaultPgliteCacheDir } from "@protomesh/data";
import { createMemoryBus, type EventBus } from "@protomesh/messaging";
import { createNotesApp } from "../src/app.js";
import type { NotesConfig } from "../src/config.js";

export interface TestService {
  app: INestMicroservice;
  address: string;
  stop(): Promise<void>;
}

/**
 * The service on a free port and a new in-memory PGlite database with the migrations applied.
 * Events go to an in-memory JetStream fake, unless `natsUrl` names a NATS server.
 */
export async function startTestService(options: { natsUrl?: string; events?: NotesConfig["events"] } = {}): Promise<TestService> {
  const bus: EventBus | undefined = options.natsUrl === undefined ? createMemoryBus() : undefined;
  const config: NotesConfig = {
    host: "127.0.0.1",
    port: 0,
    database: { pgliteCacheDir: defaultPgliteCacheDir(), migrationsFolder: "migrations" },
    natsUrl: options.natsUrl ?? "",
    events: options.events ?? { stream: "NOTES", subjectPrefix: "notes" },
  };
  const { app, transport } = await createNotesApp(config, bus);
  await app.listen();
  return {
    app,
    address: `127.0.0.1:${transport.address()!.port}`,
    async stop() {
      await app.close();
      await bus?.close();
    },
  };
}
