import "reflect-metadata";
import { mkdir } from "node:fs/promises";
import { connect } from "@nats-io/transport-node";
import { openDatabase } from "@protomesh/data";
import { createJetStreamBus } from "@protomesh/messaging/jetstream";
import { startNotesService } from "./app.js";
import { configFromEnv } from "./config.js";

const config = configFromEnv(process.env);

async function connectNats(url: string) {
  try {
    return await connect({ servers: url, name: "notes" });
  } catch (error) {
    console.error(
      `notes: NATS is not reachable at ${url} (${(error as Error).message}).\n` +
        "The service publishes its events to NATS JetStream. Start one (nats-server -js) or set NATS_URL.",
    );
    process.exit(1);
  }
}

const nats = await connectNats(config.natsUrl);
const bus = await createJetStreamBus(nats);
await bus.ensureStream({ name: config.events.stream, subjects: [`${config.events.subjectPrefix}.>`] });
// PGlite creates its data directory but not the folders above it.
if (config.database.dataDir !== undefined) await mkdir(config.database.dataDir, { recursive: true });
const database = await openDatabase(config.database);
const service = await startNotesService({ host: config.host, port: config.port, database, bus, events: config.events });
const where = config.database.url === undefined ? `PGlite in ${config.database.dataDir}` : "PostgreSQL";
console.log(`notes: serving notes.v1.NotesService on ${service.address} (database: ${where}; events: ${config.natsUrl}, stream ${config.events.stream})`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      await service.stop();
      await bus.close();
      await nats.drain();
      await database.close();
    })();
  });
}
