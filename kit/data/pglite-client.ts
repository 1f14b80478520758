// The client drizzle's sessions are given on the embedded database (not `db.$client`, which is the
// PGlite itself): the PGlite's query and transactions, but for two costs it would pay on every query. PGlite copies its table of parsers for any
// query that brings its own, and drizzle brings its own with every query (ADR 0147); and PGlite
// parses and plans every query anew, while `prepareStatement`'s statements are the same text each
// time (ADR 0148).
import { randomBytes } from "node:crypto";
import { parse, type PGlite, protocol, type QueryOptions, type Results, type Transaction, types } from "@electric-sql/pglite";
import { PREPARED_CLIENT } from "./prepared-statement.js";

// drizzle's PGlite driver asks for these types as PostgreSQL's text: its own mapping reads them.
const TEXT_TYPE_OIDS = [types.TIMESTAMP, types.TIMESTAMPTZ, types.INTERVAL, types.DATE, 1231, 1115, 1185, 1187, 1182] as const;
const keepText = (value: string) => value;
const TEXT_PARSERS = Object.fromEntries(TEXT_TYPE_OIDS.map((oid) => [oid, keepText]));
const TEXT_PROBE = "\u0000text";

function keepsProbe(parse: (value: string, typeId: number) => unknown, typeId: number): boolean {
  try {
    return parse(TEXT_PROBE, typeId) === TEXT_PROBE;
  } catch {
    return false;
  }
}

type Query = (text: string, params?: unknown[], options?: QueryOptions) => Promise<Results>;

/**
 * `client` as drizzle's sessions should see it: its `query` and `transaction`. Queries whose
 * parsers only keep types as text that the client keeps as text go without them; the client is
 * set to keep them so here, once it is ready (its start-up gives the array types parsers of their
 * own). Any other parsers still go, as do all of them once something (PGlite's
 * `refreshArrayTypes()`) has changed the client's. Statements run through `prepareStatement` are
 * parsed once per client and then only bound and executed.
 */
export function drizzleClientOf(client: PGlite): PGlite {
  Object.assign(client.parsers, TEXT_PARSERS);
  // Per options object (drizzle keeps two per prepared query): the same without parsers, when they only keep types as text.
  const leanOptions = new WeakMap<QueryOptions, QueryOptions | undefined>();
  const lean = (options: QueryOptions | undefined): QueryOptions | undefined => {
    const parsers = options?.parsers;
    if (options === undefined || parsers === undefined) return options;
    let withoutParsers = leanOptions.get(options);
    if (!leanOptions.has(options)) {
      const entries = Object.entries(parsers) as [string, (value: string, typeId: number) => unknown][];
      const keepsText = entries.every(([oid, parse]) => oid in TEXT_PARSERS && keepsProbe(parse, Number(oid)));
      const { parsers: _keptAsText, ...rest } = options;
      withoutParsers = keepsText ? rest : undefined;
      leanOptions.set(options, withoutParsers);
    }
    return withoutParsers !== undefined && Object.keys(parsers).every((oid) => client.parsers[Number(oid)] === keepText) ? withoutParsers : options;
  };
  const statements = preparedStatements(client);
  // What prepareStatement's queries run on: kept by text when they can be, else `fallback`.
  const preparedVia = (fallback: Query, runLocked: (run: () => Promise<Results>) => Promise<Results>) => ({
    query: (text: string, params?: unknown[], options?: QueryOptions) => {
      const leaned = lean(options);
      return statements.canRun(leaned) ? runLocked(() => statements.run(text, params, leaned)) : fallback(text, params, leaned);
    },
  });
  const query: Query = (text, params, options) => client.query(text, params, lean(options));
  const transaction = <T>(run: (tx: Transaction) => Promise<T>) =>
    client.transaction((tx) => {
      const txQuery: Query = (text, params, options) => tx.query(text, params, lean(options));
      // The transaction holds PGlite's transaction lock already; a statement takes the query lock, as tx.query does.
      const prepared = preparedVia(txQuery, async (run) => {
        if (tx.closed) throw new Error("Transaction is closed");
        return client._runExclusiveQuery(run);
      });
      return run(Object.create(tx, { query: { value: txQuery }, [PREPARED_CLIENT]: { value: prepared } }) as Transaction);
    });
  // As PGlite's own query: after start-up and outside any transaction of another caller.
  const prepared = preparedVia(query, async (run) => {
    await client._checkReady();
    return client._runExclusiveTransaction(() => client._runExclusiveQuery(run));
  });
  return { query, transaction, [PREPARED_CLIENT]: prepared } as unknown as PGlite;
}

type BackendMessage = Parameters<typeof parse.parseResults>[0][number];

interface Statement {
  name: string;
  paramTypes: number[];
  /** Its rows' names and types, undefined when it returns none (NoData). */
  rowDescription: BackendMessage | undefined;
}

/**
 * Named statements kept on one PGlite, by text: the first run parses and describes it (its
 * parameters' and rows' types), every run then binds and executes it in one call into PostgreSQL,
 * where PGlite's own query makes five, parses and plans each time and describes the rows again.
 * The rows' description is kept with the statement: PostgreSQL refuses to run a named statement
 * whose result would change shape ("cached plan must not change result type"), so a kept one is
 * never stale.
 * Values are serialized, rows parsed and a COPY's blob returned as PGlite's own query does. A
 * statement that fails is closed and parsed again at its next run, as node-postgres' pool drops a
 * connection after an error: a statement whose table changed type under it fails once, not for
 * good. The caller holds PGlite's query lock. The number kept is the number of texts given:
 * `prepareStatement`'s, one per call site.
 */
function preparedStatements(client: PGlite) {
  const byText = new Map<string, Statement>();
  // Unlikely to meet a name the application prepared itself on this PGlite.
  const namePrefix = `protomesh_${randomBytes(4).toString("hex")}_`;
  let named = 0;
  const { serialize } = protocol;
  const exchange = async (...messages: Uint8Array[]) => (await client.execProtocol(concat(...messages, serialize.sync()), { syncToFs: false })).messages;
  return {
    /** Whether a query with `options` can run here: a blob, notices or parameter types need PGlite's own query. */
    canRun(options: QueryOptions | undefined): boolean {
      return options === undefined || Object.keys(options).every((key) => key === "rowMode" || key === "parsers" || key === "serializers");
    },
    async run(text: string, params: unknown[] = [], options: QueryOptions | undefined): Promise<Results> {
      let statement = byText.get(text);
      const name = statement?.name ?? `${namePrefix}${++named}`;
      await client._handleBlob();
      try {
        if (statement === undefined) {
          const described = await exchange(serialize.parse({ name, text }), serialize.describe({ type: "S", name }));
          const rowDescription = described.find((message) => message.name === "rowDescription");
          statement = { name, paramTypes: parse.parseDescribeStatementResults(described), rowDescription };
          byText.set(text, statement);
        }
        const { paramTypes } = statement;
        const values = params.map((value, i) => {
          if (value === null || value === undefined) return null;
          const type = paramTypes[i] ?? 0;
          const serializer = options?.serializers?.[type] ?? client.serializers[type];
          // eslint-disable-next-line @typescript-eslint/no-base-to-string -- as PGlite's query: a type without a serializer goes as the value's own text
          return serializer === undefined ? String(value) : serializer(value);
        });
        const executed = await exchange(serialize.bind({ statement: name, values }), serialize.execute({}));
        const messages = statement.rowDescription === undefined ? executed : [statement.rowDescription, ...executed];
        if (!client.isInTransaction()) await client.syncToFs();
        await client._cleanupBlob();
        const [result] = parse.parseResults(messages, client.parsers, options, await client._getWrittenBlob());
        return result as Results;
      } catch (err) {
        byText.delete(text);
        // Closing a statement that does not exist is no error; this runs even in an aborted transaction.
        await exchange(serialize.close({ type: "S", name })).catch(() => undefined);
        await client._cleanupBlob();
        await client._getWrittenBlob();
        // As PGlite's query: the database's error names the statement and its values.
        if (err instanceof Error && "code" in err) Object.assign(err, { query: text, params, queryOptions: options });
        throw err;
      }
    },
  };
}

function concat(...messages: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(messages.reduce((size, message) => size + message.length, 0));
  let offset = 0;
  for (const message of messages) {
    all.set(message, offset);
    offset += message.length;
  }
  return all;
}
