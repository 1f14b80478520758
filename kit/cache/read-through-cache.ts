// A read-through cache on Redis in front of a source of truth (the database). Redis is only an
// accelerator: when it is missing, slow or failing, reads go to the loader and the answer is
// the same. Invalidation bumps a per-key generation, and a load stores its result only if the
// generation it read before loading is still current, so a load that overlapped a commit can
// never put the pre-commit value back after the invalidation (ADR 0050).
import type { Redis } from "ioredis";
import type { SharedRedis } from "./shared-redis.js";
import { SingleFlight } from "./single-flight.js";

/** Turns a cached value into bytes and back; protobuf binary is the usual choice. */
export interface CacheCodec<V> {
  encode(value: V): Uint8Array;
  decode(bytes: Uint8Array): V;
}

export interface ReadThroughCacheOptions<V> {
  /** Key prefix, e.g. "items:item"; entries live at `<namespace>:{<key>}`. */
  namespace: string;
  /** How long an entry answers reads without asking the loader; the backstop for a lost invalidation. */
  ttlMs: number;
  /** How long an entry stays readable by `peekMany` (at least `ttlMs`). Default `ttlMs`. */
  retainMs?: number;
  codec: CacheCodec<V>;
}

/** A value as last stored, with its age (measured by Redis, so replicas' clocks do not matter). */
export interface CachedEntry<V> {
  value: V;
  ageMs: number;
}

/** Counters for metrics and tests. `loads` counts loader calls: each one is a trip to the source. */
export interface CacheStats {
  hits: number;
  misses: number;
  /** Reads that did not ask Redis, or whose Redis command failed: answered by the loader. */
  bypassed: number;
  loads: number;
  stores: number;
  invalidations: number;
}

export interface ReadThroughCache<V> {
  /** The value of `key`: from Redis when fresh, else from `load` (one load per key at a time in this process). */
  get(key: string, load: (key: string) => Promise<V>): Promise<V>;
  /**
   * The values of `keys`: fresh entries from Redis, the rest from one `load` call with the keys
   * missing. A key that `load` leaves out of its map (it does not exist) is absent from the result
   * and not cached.
   */
  getMany(keys: readonly string[], load: (missing: string[]) => Promise<Map<string, V>>): Promise<Map<string, V>>;
  /** Stores values as they are now, unconditionally (for values learned elsewhere, e.g. a remote answer). */
  put(entries: ReadonlyMap<string, V>): Promise<void>;
  /** Entries still retained, fresh or not, with their age; keys not in Redis (or Redis down) are absent. */
  peekMany(keys: readonly string[]): Promise<Map<string, CachedEntry<V>>>;
  /** Drops entries after a change committed; loads running now will not store what they read. */
  invalidate(keys: Iterable<string>): Promise<void>;
  stats(): CacheStats;
}

/** How long an invalidation's generation is remembered; a load slower than half of it does not store. */
const GENERATION_TTL_MS = 10 * 60_000;

const STORE_IF_CURRENT = `
local generation = redis.call('GET', KEYS[2])
if (generation or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

const INVALIDATE = `
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 1`;

interface CacheCommands {
  protomeshCacheStore(entryKey: string, generationKey: string, expected: string, payload: Buffer, px: number): Promise<number>;
  protomeshCacheInvalidate(entryKey: string, generationKey: string, ttlMs: number): Promise<number>;
}

function withCommands(client: Redis): Redis & CacheCommands {
  if (!("protomeshCacheStore" in client)) {
    client.defineCommand("protomeshCacheStore", { numberOfKeys: 2, lua: STORE_IF_CURRENT });
    client.defineCommand("protomeshCacheInvalidate", { numberOfKeys: 2, lua: INVALIDATE });
  }
  return client as Redis & CacheCommands;
}

/** What one Redis read found for a key: the entry (if any), its remaining life, and the generation. */
interface Read {
  bytes: Buffer | null;
  pttl: number;
  generation: string;
}

/** Without `redis` (none configured) every read goes to the loader; single flight still applies. */
export function createReadThroughCache<V>(redis: SharedRedis | undefined, options: ReadThroughCacheOptions<V>): ReadThroughCache<V> {
  const { namespace, ttlMs, codec } = options;
  const retainMs = Math.max(options.retainMs ?? ttlMs, ttlMs);
  if (!(ttlMs > 0)) throw new RangeError(`cache ${namespace}: ttlMs must be positive, got ${ttlMs}`);
  const entryKey = (key: string) => `${namespace}:{${key}}`;
  const generationKey = (key: string) => `${namespace}:{${key}}:gen`;
  const flights = new SingleFlight<Map<string, V>>();
  const counters: CacheStats = { hits: 0, misses: 0, bypassed: 0, loads: 0, stores: 0, invalidations: 0 };

  async function read(keys: readonly string[]): Promise<Map<string, Read> | undefined> {
    if (redis === undefined || keys.length === 0) return undefined;
    return redis.run(async (client) => {
      const pipeline = client.pipeline();
      for (const key of keys) pipeline.getBuffer(entryKey(key)).pttl(entryKey(key)).get(generationKey(key));
      const replies = (await pipeline.exec()) ?? [];
      const reads = new Map<string, Read>();
      keys.forEach((key, i) => {
        const [bytes, pttl, generation] = [0, 1, 2].map((offset) => {
          const [error, value] = replies[i * 3 + offset] ?? [new Error("missing reply")];
          if (error) throw error;
          return value;
        });
        reads.set(key, { bytes: (bytes as Buffer | null) ?? null, pttl: Number(pttl), generation: (generation as string | null) ?? "" });
      });
      return reads;
    });
  }

  function decode(bytes: Buffer): V | undefined {
    try {
      return codec.decode(bytes);
    } catch {
      // An entry this version cannot read (written by another version, or damaged) is a miss.
      return undefined;
    }
  }

  async function store(values: Map<string, V>, reads: Map<string, Read>, loadStartedAt: number) {
    if (redis === undefined || values.size === 0 || Date.now() - loadStartedAt > GENERATION_TTL_MS / 2) return;
    const stored = await redis.run(async (client) => {
      const commands = withCommands(client);
      // Sent together in one write; each store checks its key's generation atomically.
      return Promise.all(
        [...values].map(([key, value]) => commands.protomeshCacheStore(entryKey(key), generationKey(key), reads.get(key)?.generation ?? "", Buffer.from(codec.encode(value)), retainMs)),
      );
    });
    if (stored) counters.stores += stored.filter((result) => result === 1).length;
  }

  /** Reads `keys` from Redis and loads what is missing or stale; the body of one flight. */
  async function fetch(keys: string[], load: (missing: string[]) => Promise<Map<string, V>>): Promise<Map<string, V>> {
    const reads = await read(keys);
    const found = new Map<string, V>();
    const missing: string[] = [];
    for (const key of keys) {
      const entry = reads?.get(key);
      const value = entry?.bytes && entry.pttl > retainMs - ttlMs ? decode(entry.bytes) : undefined;
      if (value !== undefined) {
        counters.hits += 1;
        found.set(key, value);
      } else {
        if (reads === undefined) counters.bypassed += 1;
        else counters.misses += 1;
        missing.push(key);
      }
    }
    if (missing.length === 0) return found;
    const startedAt = Date.now();
    counters.loads += 1;
    const loaded = await load(missing);
    // Only a load whose generations were read can be stored safely.
    if (reads !== undefined) await store(new Map(missing.flatMap((key) => (loaded.has(key) ? [[key, loaded.get(key) as V]] : []))), reads, startedAt);
    for (const key of missing) if (loaded.has(key)) found.set(key, loaded.get(key) as V);
    return found;
  }

  async function getMany(keys: readonly string[], load: (missing: string[]) => Promise<Map<string, V>>): Promise<Map<string, V>> {
    const unique = [...new Set(keys)];
    const joined: Promise<Map<string, V>>[] = [];
    const own: string[] = [];
    for (const key of unique) {
      const running = flights.joining(key);
      if (running) joined.push(running);
      else own.push(key);
    }
    if (own.length > 0) {
      const flight = fetch(own, load);
      for (const key of own) flights.start(key, flight);
      joined.push(flight);
    }
    const result = new Map<string, V>();
    for (const part of await Promise.all(joined)) {
      for (const key of unique) if (part.has(key)) result.set(key, part.get(key) as V);
    }
    return result;
  }

  return {
    getMany,

    async get(key, load) {
      const values = await getMany([key], async ([missing]) => new Map([[missing as string, await load(missing as string)]]));
      // Absent only when this call joined a getMany whose loader did not find the key: ask ourselves.
      return values.has(key) ? (values.get(key) as V) : load(key);
    },

    async put(entries) {
      if (redis === undefined || entries.size === 0) return;
      await redis.run(async (client) => {
        const pipeline = client.pipeline();
        for (const [key, value] of entries) pipeline.set(entryKey(key), Buffer.from(codec.encode(value)), "PX", retainMs);
        await pipeline.exec();
        counters.stores += entries.size;
      });
    },

    async peekMany(keys) {
      const reads = await read([...new Set(keys)]);
      const entries = new Map<string, CachedEntry<V>>();
      for (const [key, entry] of reads ?? []) {
        const value = entry.bytes && entry.pttl > 0 ? decode(entry.bytes) : undefined;
        if (value !== undefined) entries.set(key, { value, ageMs: Math.max(0, retainMs - entry.pttl) });
      }
      return entries;
    },

    async invalidate(keys) {
      const list = [...new Set(keys)];
      for (const key of list) flights.forget(key);
      if (redis === undefined || list.length === 0) return;
      await redis.run(async (client) => {
        const commands = withCommands(client);
        await Promise.all(list.map((key) => commands.protomeshCacheInvalidate(entryKey(key), generationKey(key), GENERATION_TTL_MS)));
        counters.invalidations += list.length;
      });
    },

    stats: () => ({ ...counters }),
  };
}
