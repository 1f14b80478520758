import pg from "pg";

/** Stops a notification listener. */
export type Unlisten = () => Promise<void>;

/** What a listener is told besides the notifications themselves. */
export interface ListenOptions {
  /**
   * Called each time LISTEN is in place again after its connection was lost (never for the first
   * connection). Notifications sent while it was down are lost: re-read what they would have
   * announced. Called after LISTEN, so a change committed later is notified. Default: none.
   */
  onReconnect?: (() => void) | undefined;
}

interface ListenConnectionOptions {
  url: string | undefined;
  applicationName: string;
  connectTimeoutMs: number;
  onBackgroundError: (err: Error) => void;
}

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

const asError = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));

/**
 * LISTEN on a dedicated connection (a pooled one would be handed to other queries). After a
 * failure it reconnects with backoff until stopped and then calls `onReconnect`; notifications
 * in the gap are lost.
 */
export async function listenPostgres(options: ListenConnectionOptions, channel: string, onNotify: (payload: string) => void, listenOptions: ListenOptions = {}): Promise<Unlisten> {
  let stopped = false;
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  let delay = RECONNECT_MIN_MS;
  let listenedBefore = false;

  const connect = async (): Promise<void> => {
    const c = new pg.Client({
      connectionString: options.url,
      application_name: `${options.applicationName}:listen`,
      connectionTimeoutMillis: options.connectTimeoutMs,
    });
    c.on("notification", (msg) => {
      if (msg.channel === channel) onNotify(msg.payload ?? "");
    });
    c.on("error", (err) => {
      options.onBackgroundError(err);
      void c.end().catch(() => undefined);
    });
    c.on("end", () => {
      if (client === c) client = undefined;
      scheduleReconnect();
    });
    await c.connect();
    await c.query(`listen ${pg.escapeIdentifier(channel)}`);
    if (stopped) {
      await c.end();
      return;
    }
    client = c;
    delay = RECONNECT_MIN_MS;
    if (listenedBefore) reportReconnect();
    listenedBefore = true;
  };

  // The listener's own failure must not pass for a failed connection, which would reconnect again.
  const reportReconnect = () => {
    try {
      listenOptions.onReconnect?.();
    } catch (err) {
      options.onBackgroundError(asError(err));
    }
  };

  const scheduleReconnect = () => {
    if (stopped || timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      connect().catch((err: unknown) => {
        options.onBackgroundError(asError(err));
        delay = Math.min(delay * 2, RECONNECT_MAX_MS);
        scheduleReconnect();
      });
    }, delay);
    timer.unref();
  };

  try {
    await connect();
  } catch (err) {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    throw err;
  }
  return async () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    const c = client;
    client = undefined;
    await c?.end().catch(() => undefined);
  };
}
