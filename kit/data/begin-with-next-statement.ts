// A transaction's BEGIN sent in the same write as its first statement: one round trip less per
// transaction (docs/adr/0146). drizzle sends BEGIN as a query of its own and waits for it, and
// node-postgres (outside its pipeline mode) sends the next query only after that answer.
import pg from "pg";

/** A query as drizzle and node-postgres pass it to `client.query`. */
type QueryConfig = { text?: unknown; name?: unknown; values?: unknown } | string;

const BEGIN = /^\s*begin\b[a-z\s,]*;?\s*$/i;
const ENDS_TRANSACTION = /^\s*(commit|rollback)\s*;?\s*$/i;

// The parts of node-postgres' Query (pg/lib/query.js) and of the connection it writes to
// (pg/lib/connection.js) used here; @types/pg declares neither as a class may override them.
interface Connection {
  stream: { cork(): void; uncork(): void };
  parsedStatements: Record<string, string>;
  parse(query: { text: string }): void;
  bind(config: object): void;
  execute(config: object): void;
}
interface NodePgQuery {
  text: unknown;
  name: unknown;
  values: unknown;
  callback: ((err: Error | null, result: unknown) => void) | undefined;
  submit(connection: Connection): Error | null;
  handleCommandComplete(message: unknown, connection: Connection): void;
}
const NodePgQuery = pg.Query as unknown as new (config: unknown, values?: unknown) => NodePgQuery;

/**
 * The statement after a deferred BEGIN: written with the BEGIN's extended-protocol messages
 * (parse, bind, execute, no sync) in front of its own, so one write carries both and one
 * ReadyForQuery answers both. The BEGIN's CommandComplete is not this statement's result.
 */
class StatementAfterBegin extends NodePgQuery {
  private beginAnswered = false;

  constructor(
    private readonly beginText: string,
    config: QueryConfig,
    values: unknown,
  ) {
    super(config, values);
  }

  override submit(connection: Connection): Error | null {
    connection.stream.cork();
    try {
      connection.parse({ text: this.beginText });
      connection.bind({});
      connection.execute({});
      return super.submit(connection);
    } finally {
      connection.stream.uncork();
    }
  }

  override handleCommandComplete(message: unknown, connection: Connection): void {
    if (!this.beginAnswered) {
      this.beginAnswered = true;
      return;
    }
    super.handleCommandComplete(message, connection);
  }
}

/** A query after a BEGIN sent alone: not sent when that BEGIN failed, it fails with its error. */
class QueryAfterBegin extends NodePgQuery {
  constructor(
    private readonly beginError: () => Error | undefined,
    config: QueryConfig,
    values: unknown,
  ) {
    super(config, values);
  }

  override submit(connection: Connection): Error | null {
    return this.beginError() ?? super.submit(connection);
  }
}

/**
 * Makes `client` hold back a bare BEGIN until the transaction's next query and send both in one
 * write. A COMMIT or ROLLBACK right after it ends a transaction that never ran, so neither is
 * sent. Held back only where it is safe to join: the next query must use the extended protocol
 * (a simple-protocol query may hold several statements, each with its own answer) and, when
 * named, be parsed on this connection already (node-postgres marks a named statement parsed on
 * the first ParseComplete it sees, which would be the BEGIN's). Otherwise the BEGIN goes first,
 * alone, as before, and the query after it fails with its error if it failed. Only drizzle's
 * BEGIN is held (a lone `begin …` with an empty values array, on a connection outside a
 * transaction with nothing in flight). Call `reset` when the client is handed out again.
 */
export function beginWithNextStatement(client: pg.PoolClient): { reset(): void } {
  // The driver's query as it is when called, not when this client was first handed out: whatever
  // wraps pg.Client.prototype.query later (tracing, a statement counter) still sees every statement.
  const driverQuery = Object.getPrototypeOf(client) as { query: (...args: unknown[]) => unknown };
  const send = (...args: unknown[]): unknown => driverQuery.query.apply(client, args);
  const connection = (client as unknown as { connection: Connection }).connection;
  let heldBegin: string | undefined;
  // A BEGIN is held only on an idle connection with nothing in flight: inside a transaction it is
  // a no-op for the server, and holding it would swallow the COMMIT that follows.
  const idle = () => {
    const state = client as unknown as { getTransactionStatus(): string | null; readyForQuery: boolean; _queryQueue: unknown[] };
    return state.getTransactionStatus() === "I" && state.readyForQuery && state._queryQueue.length === 0;
  };

  // Judged on the query as node-postgres normalised it, so that its submit cannot refuse it after
  // the BEGIN's messages are written.
  const joinable = (statement: NodePgQuery): boolean => {
    if (typeof statement.text !== "string" || !Array.isArray(statement.values)) return false;
    if (typeof statement.name !== "string" || statement.name === "") return statement.values.length > 0;
    return connection.parsedStatements[statement.name] === statement.text;
  };

  const query = (config: QueryConfig, values?: unknown, callback?: unknown): unknown => {
    const text = typeof config === "object" && config !== null && !("submit" in config) && typeof config.text === "string" ? config.text : undefined;
    const promiseStyle = typeof values !== "function" && callback === undefined;
    if (heldBegin === undefined) {
      // Only drizzle's BEGIN is held: a config object with an empty values array, awaited as a
      // promise. A caller of the raw client (`client.query("begin")`) gets the driver unchanged.
      if (text !== undefined && promiseStyle && Array.isArray(values) && values.length === 0 && BEGIN.test(text) && idle()) {
        heldBegin = text;
        return Promise.resolve(emptyResult("BEGIN"));
      }
      return send(config, values, callback);
    }
    const begin = heldBegin;
    heldBegin = undefined;
    const ending = text === undefined || !promiseStyle ? undefined : ENDS_TRANSACTION.exec(text)?.[1];
    if (ending !== undefined) return Promise.resolve(emptyResult(ending.toUpperCase()));
    if (typeof config === "object" && config !== null && "submit" in config) {
      // drizzle sends no custom query (cursor, stream); one cannot be rebuilt, so it follows the
      // BEGIN as it came.
      send(begin, () => undefined);
      return send(config, values, callback);
    }
    const params = typeof values === "function" ? undefined : values;
    const done = typeof values === "function" ? values : callback;
    const run = (next: NodePgQuery) => {
      if (typeof done === "function") {
        next.callback = done as NodePgQuery["callback"];
        send(next);
        return undefined;
      }
      return new Promise((resolve, reject) => {
        next.callback = (err, result) => (err ? reject(err) : resolve(result));
        send(next);
      });
    };
    const statement = new StatementAfterBegin(begin, config, params);
    if (joinable(statement)) return run(statement);
    // BEGIN alone, then the query, which fails with the BEGIN's error instead of running outside a
    // transaction. The callback runs before the next query is submitted (a promise's would not).
    let beginError: Error | undefined;
    send(begin, (err: Error | null) => {
      if (err) beginError = err;
    });
    return run(new QueryAfterBegin(() => beginError, config, params));
  };
  (client as unknown as { query: typeof query }).query = query;
  return {
    reset() {
      heldBegin = undefined;
    },
  };
}

function emptyResult(command: string): pg.QueryResult {
  return { command, rowCount: null, oid: 0, fields: [], rows: [] };
}
