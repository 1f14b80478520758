import { and, desc, eq, isNull } from "drizzle-orm";
import type { Executor } from "@protomesh/data";
import { deadLetters } from "./dead-letter-table.js";

/** A message a consumer gave up on, as copied before it was terminated. */
export interface DeadLetter {
  stream: string;
  consumer: string;
  subject: string;
  streamSequence: number;
  deliveries: number;
  eventId: string | null;
  eventType: string | null;
  headers: Record<string, string>;
  payload: Uint8Array;
  reason: string;
}

export interface StoredDeadLetter extends DeadLetter {
  id: number;
  createdAt: Date;
  replayedAt: Date | null;
}

/**
 * Where dead letters go. `write` must be durable when it resolves (the message is terminated
 * right after) and idempotent for one (stream, consumer, streamSequence).
 */
export interface DeadLetterSink {
  write(letter: DeadLetter): Promise<void>;
}

/** The dead-letter table in the service's database, with the read and replay side for operators. */
export interface DeadLetterStore extends DeadLetterSink {
  list(options?: { limit?: number; onlyPending?: boolean }): Promise<StoredDeadLetter[]>;
  get(id: number): Promise<StoredDeadLetter | undefined>;
  markReplayed(id: number): Promise<void>;
}

export function createDeadLetterStore(db: Executor): DeadLetterStore {
  return {
    async write(letter) {
      await db.insert(deadLetters).values(letter).onConflictDoNothing();
    },
    async list(options = {}) {
      const query = db.select().from(deadLetters);
      const filtered = options.onlyPending ? query.where(isNull(deadLetters.replayedAt)) : query;
      return filtered.orderBy(desc(deadLetters.id)).limit(options.limit ?? 100);
    },
    async get(id) {
      const [row] = await db.select().from(deadLetters).where(eq(deadLetters.id, id));
      return row;
    },
    async markReplayed(id) {
      await db
        .update(deadLetters)
        .set({ replayedAt: new Date() })
        .where(and(eq(deadLetters.id, id), isNull(deadLetters.replayedAt)));
    },
  };
}

/** An in-memory sink for tests. */
export function createMemoryDeadLetters(): DeadLetterSink & { readonly letters: DeadLetter[] } {
  const letters: DeadLetter[] = [];
  return {
    letters,
    write(letter) {
      const seen = letters.some(
        (l) => l.stream === letter.stream && l.consumer === letter.consumer && l.streamSequence === letter.streamSequence,
      );
      if (!seen) letters.push(letter);
      return Promise.resolve();
    },
  };
}
