import { sql } from "drizzle-orm";
import { type DynamicModule, Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import type { Database } from "@protomesh/data";
import { createOutboxRelay, type EventBus } from "@protomesh/messaging";
import { ConnectTransport } from "@protomesh/server/nest";
import type { EventsConfig } from "./config.js";
import { NotesController } from "./notes.controller.js";
import { DATABASE, EVENTS } from "./tokens.js";

@Module({})
export class NotesModule {
  static forRoot(database: Database, events: EventsConfig): DynamicModule {
    return {
      module: NotesModule,
      controllers: [NotesController],
      providers: [
        { provide: DATABASE, useValue: database },
        { provide: EVENTS, useValue: events },
      ],
    };
  }
}

export interface NotesServiceDeps {
  host: string;
  port: number;
  /** Opened by the caller, migrations applied; closed by the caller after `stop()`. */
  database: Database;
  /** Where the outbox relay publishes; its stream must exist. */
  bus: EventBus;
  events: EventsConfig;
  /** Run the outbox relay. Default: true; false leaves events in the outbox as the RPCs wrote them. */
  relay?: boolean;
}

export interface RunningNotesService {
  /** host:port the service listens on (port 0 resolved). */
  address: string;
  /** Stops taking calls, then publishes nothing more; pending outbox rows wait for the next start. */
  stop(): Promise<void>;
}

/**
 * Serves NotesService (gRPC, gRPC-Web and Connect on one HTTP/2 port, with protovalidate, gRPC
 * health and server reflection) and runs the outbox relay that publishes its events.
 */
export async function startNotesService(deps: NotesServiceDeps): Promise<RunningNotesService> {
  const transport = new ConnectTransport({ host: deps.host, port: deps.port });
  const relay = createOutboxRelay({ database: deps.database, publisher: deps.bus });
  // grpc.health.v1 answers NOT_SERVING while the database fails or events cannot get out.
  transport.health.addProbe("database", async () => {
    await deps.database.db.execute(sql`select 1`);
    return true;
  });
  transport.health.addProbe("outbox relay", () => relay.readiness());
  const app = await NestFactory.createMicroservice(NotesModule.forRoot(deps.database, deps.events), {
    strategy: transport,
    logger: ["error", "warn"],
  });
  await app.listen();
  if (deps.relay ?? true) await relay.start();
  const { port } = transport.address()!;
  return {
    address: `${deps.host}:${port}`,
    async stop() {
      await app.close();
      await relay.stop();
    },
  };
}
