import type { DatabaseOptions } from "@protomesh/data";
import { defaultPgliteCacheDir } from "@protomesh/data";

/** Where this service's events go. */
export interface EventsConfig {
  /** The JetStream stream that stores them, created at start-up. */
  stream: string;
  /** Subjects start with it: `<prefix>.notes.v1.NoteCreated`; the stream captures `<prefix>.>`. */
  subjectPrefix: string;
}

export interface NotesConfig {
  host: string;
  /** 0 picks a free port. */
  port: number;
  database: DatabaseOptions;
  natsUrl: string;
  events: EventsConfig;
}

/**
 * The configuration of `npm start`, from the environment. With nothing set it runs on embedded
 * PGlite in .data/notes and expects NATS JetStream on 127.0.0.1:4222.
 */
export function configFromEnv(env: NodeJS.ProcessEnv): NotesConfig {
  const url = env["DATABASE_URL"];
  return {
    host: env["HOST"] ?? "127.0.0.1",
    port: Number(env["PORT"] ?? 50051),
    // A PostgreSQL URL, or PGlite in a data directory, started from a cached initdb.
    database:
      url === undefined || url === ""
        ? { dataDir: env["DATA_DIR"] ?? ".data/notes", pgliteCacheDir: defaultPgliteCacheDir(), migrationsFolder: "migrations" }
        : { url, migrationsFolder: "migrations" },
    natsUrl: env["NATS_URL"] ?? "nats://127.0.0.1:4222",
    events: { stream: env["EVENTS_STREAM"] ?? "NOTES", subjectPrefix: env["EVENTS_SUBJECT_PREFIX"] ?? "notes" },
  };
}

export function noteCreatedSubject(events: EventsConfig): string {
  return `${events.subjectPrefix}.notes.v1.NoteCreated`;
}
