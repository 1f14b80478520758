import { createHash } from "node:crypto";
import { type Column, type SQL, sql, type SQLWrapper } from "drizzle-orm";
import type { PgPreparedQuery, PreparedQueryConfig } from "drizzle-orm/pg-core";
import type { Executor, RowsResult } from "./database.js";

/** A drizzle query builder (select, insert, update, delete) that can be prepared. */
export interface PreparableQuery<TResult> {
  toSQL(): { sql: string };
  prepare(name: string): PgPreparedQuery<PreparedQueryConfig & { execute: TResult }>;
}

/**
 * A statement built once and run with new values on any executor: a db, or the `tx` of a
 * transaction, on PostgreSQL or PGlite. Values go in through `sql.placeholder(name)`.
 */
export interface PreparedStatement<TResult> {
  /** Runs the statement on `executor` (inside its transaction when it is a `tx`). */
  execute(executor: Executor, values?: Record<string, unknown>): Promise<TResult>;
}

/**
 * Builds `build`'s statement once per driver instead of on every call: drizzle assembling SQL
 * from its builders costs more CPU than PostgreSQL running a small statement (docs/adr/0143).
 * The statement is also prepared: on PostgreSQL on each connection under a name derived from its
 * text, so the server parses and plans it once per connection; on the PGlite of `openDatabase`
 * once per database (docs/adr/0148). `build` must give one statement
 * text whatever the values: anything that changes put in placeholders, never in the SQL.
 */
export function prepareStatement<TResult>(build: (db: Executor) => PreparableQuery<TResult>): PreparedStatement<TResult>;
export function prepareStatement<TRow extends Record<string, unknown> = Record<string, unknown>>(
  build: (db: Executor) => SQLWrapper,
): PreparedStatement<RowsResult<TRow>>;
export function prepareStatement(build: (db: Executor) => PreparableQuery<unknown> | SQLWrapper): PreparedStatement<unknown> {
  // One template per driver: a process may hold a PGlite and a PostgreSQL database at once.
  const templates = new Map<unknown, PreparedQueryTemplate>();
  return {
    execute(executor, values = {}) {
      const session = sessionOf(executor);
      let template = templates.get(session.constructor);
      if (template === undefined) {
        template = prepareTemplate(executor, session, build(executor));
        templates.set(session.constructor, template);
      }
      // The template runs on the client of the session it was built on; this call's executor
      // may be another transaction's, so the same prepared query runs on that client instead.
      const bound = Object.create(template) as PreparedQueryTemplate;
      bound.client = preparedClientOf(session.client);
      return bound.execute(values);
    },
  };
}

type PreparedQueryTemplate = PgPreparedQuery<PreparedQueryConfig> & { client: unknown };

/**
 * Where a driver client keeps statements parsed by their text and runs them with new values (the
 * PGlite client of openDatabase and its transactions, ADR 0148): the client `prepareStatement`'s
 * statements run on there. node-postgres does the same by the statement's name, on itself.
 */
export const PREPARED_CLIENT = Symbol("protomesh.data.preparedClient");

function preparedClientOf(client: unknown): unknown {
  return (client as { [PREPARED_CLIENT]?: unknown })[PREPARED_CLIENT] ?? client;
}

// drizzle keeps the connection (pool, pool client, PGlite or its transaction) as `client` on its
// sessions and prepared queries of both drivers; `_.session` is part of its public database type.
interface DriverSession {
  client: unknown;
  prepareQuery(query: { sql: string; params: unknown[] }, fields: undefined, name: string, isResponseInArrayMode: boolean): PgPreparedQuery<PreparedQueryConfig>;
}

function sessionOf(executor: Executor): DriverSession {
  const session = (executor as { _?: { session?: Partial<DriverSession> } })._?.session;
  if (session?.client === undefined || typeof session.prepareQuery !== "function") {
    throw new Error("prepareStatement needs a drizzle database or transaction of drizzle-orm/node-postgres or drizzle-orm/pglite");
  }
  return session as DriverSession;
}

function prepareTemplate(executor: Executor, session: DriverSession, query: PreparableQuery<unknown> | SQLWrapper): PreparedQueryTemplate {
  let prepared: PgPreparedQuery<PreparedQueryConfig>;
  if (isPreparable(query)) {
    prepared = query.prepare(statementName(query.toSQL().sql));
  } else {
    const rendered = executor.execute(query.getSQL()).getQuery();
    prepared = session.prepareQuery(rendered, undefined, statementName(rendered.sql), false);
  }
  if (!("client" in prepared)) throw new Error("prepareStatement: this drizzle-orm version keeps no client on its prepared queries");
  return prepared;
}

function isPreparable(query: PreparableQuery<unknown> | SQLWrapper): query is PreparableQuery<unknown> {
  const candidate = query as Partial<PreparableQuery<unknown>>;
  return typeof candidate.prepare === "function" && typeof candidate.toSQL === "function";
}

// PostgreSQL keeps a named statement per connection, and node-postgres refuses a name reused for
// another text: a name from the text itself cannot collide.
function statementName(text: string): string {
  return `pm_${createHash("sha256").update(text).digest("hex").slice(0, 24)}`;
}

/**
 * A placeholder whose value `column` encodes as it does its own values (jsonb, bytea, dates,
 * bigint), for where drizzle takes no bare placeholder: `update().set()` and `sql` templates.
 * `null` stays SQL NULL, as in a builder's values (drizzle would hand it to the column's encoder:
 * the JSON value `null` in a jsonb column, a TypeError in a timestamp one).
 */
export function columnPlaceholder(name: string, column: Column): SQL {
  const encoder = { mapToDriverValue: (value: unknown) => (value === null || value === undefined ? null : column.mapToDriverValue(value)) };
  return sql`${sql.param(sql.placeholder(name), encoder)}`;
}
