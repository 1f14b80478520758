import { type DynamicModule, type INestMicroservice, Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import type { Database } from "@protomesh/data";
import type { EventBus, OutboxRelay } from "@protomesh/messaging";
import { MESSAGING_DATABASE, OUTBOX_RELAY, ProtomeshMessagingModule } from "@protomesh/messaging/nest";
import { ConnectTransport } from "@protomesh/server/nest";
import type { NotesConfig } from "./config.js";
import { NotesController } from "./notes.controller.js";
import { EVENTS } from "./tokens.js";

@Module({})
export class NotesModule {
  /** `bus`: an event bus of the caller's (tests pass an in-memory one); default NATS JetStream at `config.natsUrl`. */
  static forRoot(config: NotesConfig, bus?: EventBus): DynamicModule {
    const { stream, subjectPrefix } = config.events;
    return {
      module: NotesModule,
      imports: [
        // Opens the database (migrations applied) and NATS, ensures this service's stream, runs the
        // outbox relay from bootstrap to shutdown, and closes what it opened.
        ProtomeshMessagingModule.forRoot({
          service: "notes",
          database: config.database,
          bus: bus ?? { jetstream: { servers: config.natsUrl } },
          publishes: { name: stream, subjects: [`${subjectPrefix}.>`] },
        }),
      ],
      controllers: [NotesController],
      providers: [{ provide: EVENTS, useValue: config.events }],
    };
  }
}

export interface NotesApp {
  app: INestMicroservice;
  /** Serves NotesService: gRPC, gRPC-Web and Connect on one HTTP/2 port, with protovalidate, gRPC health and server reflection. */
  transport: ConnectTransport;
}

/** The service, ready to `app.listen()`; `app.close()` stops it and releases the database and NATS. */
export async function createNotesApp(config: NotesConfig, bus?: EventBus): Promise<NotesApp> {
  const transport = new ConnectTransport({ host: config.host, port: config.port });
  const app = await NestFactory.createMicroservice(NotesModule.forRoot(config, bus), {
    strategy: transport,
    // Silent while it starts: a failure (an unreachable NATS, a bad migration) is thrown to the
    // caller, which says what went wrong, instead of Nest logging it and exiting the process.
    logger: false,
    abortOnError: false,
  });
  app.useLogger(["error", "warn"]);
  const database = app.get<Database>(MESSAGING_DATABASE);
  const relay = app.get<OutboxRelay>(OUTBOX_RELAY);
  // grpc.health.v1 answers NOT_SERVING while the database fails or events cannot get out.
  transport.health.addProbe("database", () => database.ready().then(() => true));
  transport.health.addProbe("outbox relay", () => relay.readiness());
  return { app, transport };
}
