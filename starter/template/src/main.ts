import "reflect-metadata";
import { mkdir } from "node:fs/promises";
import { createNotesApp } from "./app.js";
import { configFromEnv } from "./config.js";

const config = configFromEnv(process.env);
// PGlite creates its data directory but not the folders above it.
if (config.database.dataDir !== undefined) await mkdir(config.database.dataDir, { recursive: true });

const notes = await createNotesApp(config).catch((error: unknown) => {
  const message = (error as Error).message;
  if (/cannot reach NATS/.test(message)) {
    console.error(`notes: ${message}.\nThe service publishes its events to NATS JetStream: start one (nats-server -js) or set NATS_URL.`);
  } else {
    console.error("notes: could not start:", error);
  }
  process.exit(1);
});
notes.app.enableShutdownHooks();
await notes.app.listen();
const where = config.database.url === undefined ? `PGlite in ${config.database.dataDir}` : "PostgreSQL";
const { port } = notes.transport.address()!;
console.log(`notes: serving notes.v1.NotesService on ${config.host}:${port} (database: ${where}; events: ${config.natsUrl}, stream ${config.events.stream})`);
