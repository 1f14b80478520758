// A transaction's BEGIN sent in the same write as its first statement: one round trip less per
// transaction (docs/adr/0146). drizzle sends BEGIN as a query of its own and waits for it, and
// node-postgres (outside its pipeline mode) sends the next query only after that answer.
import pg from "pg";

/** A query as drizzle and node-postgres pass it to `client.query`. */
type QueryConfig = { text?: unknown; name?: unknown; values?: unknown } | string;

const BEGIN = /^\s*begin\b/i;
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

/**
 * Makes `client` hold back a bare BEGIN until the transaction's next query and send both in one
 * write. A COMMIT or ROLLBACK right after it ends a transaction that never ran, so neither is
 * sent. Held back only where it is safe to join: the next query must use the extended protocol
 * (a simple-protocol query may hold several statements, each with its own answer) and, when
 * named, be parsed on this connection already (node-postgres marks a named statement parsed on
 * the first ParseComplete it sees, which would be the BEGIN's). Otherwise the BEGIN goes first,
 * alone, as before. Call `reset` when the client is handed out again.
 */
export function beginWithNextStatement(client: pg.PoolClient): { reset(): void } {
  const send = client.query.bind(client) as (config: unknown, values?: unknown, callback?: unknown) => unknown;
  const connection = (client as unknown as { connection: Connection }).connection;
  let heldBegin: string | undefined;

  const joinable = (config: QueryConfig, values: unknown): boolean => {
    if (typeof config !== "object" || config === null || typeof config.text !== "string") return false;
    const name = typeof config.name === "string" && config.name !== "" ? config.name : undefined;
    const params = Array.isArray(values) ? values : Array.isArray(config.values) ? config.values : [];
    if (name === undefined) return params.length > 0;
    return connection.parsedStatements[name] === config.text;
  };

  const query = (config: QueryConfig, values?: unknown, callback?: unknown): unknown => {
    // Only promise-style calls are held: drizzle's. A callback or a submittable goes as it came.
    const promiseStyle = typeof values !== "function" && callback === undefined && !(typeof config === "object" && config !== null && "submit" in config);
    const text = typeof config === "string" ? config : typeof config?.text === "string" ? config.text : undefined;
    const params = Array.isArray(values) ? values : typeof config === "object" && Array.isArray(config?.values) ? config.values : [];
    if (heldBegin === undefined) {
      if (promiseStyle && text !== undefined && params.length === 0 && BEGIN.test(text)) {
        heldBegin = text;
        return Promise.resolve(emptyResult("BEGIN"));
      }
      return send(config, values, callback);
    }
    const begin = heldBegin;
    heldBegin = undefined;
    if (promiseStyle && text !== undefined && params.length === 0 && ENDS_TRANSACTION.test(text)) {
      return Promise.resolve(emptyResult(text.trim().split(/\s|;/)[0]?.toUpperCase() ?? "COMMIT"));
    }
    if (!promiseStyle || !joinable(config, values)) {
      const sentBegin = send(begin) as Promise<unknown>;
      // The BEGIN's failure (a dead connection) shows on the query after it as well.
      sentBegin.catch(() => undefined);
      return send(config, values, callback);
    }
    return new Promise((resolve, reject) => {
      const statement = new StatementAfterBegin(begin, config, values);
      statement.callback = (err: Error | null, result: unknown) => (err ? reject(err) : resolve(result));
      send(statement);
    });
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
