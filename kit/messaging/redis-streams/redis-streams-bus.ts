import type { Redis } from "ioredis";
import type { ConsumerSpec, Delivery, EventBus, OutgoingMessage, PublishAck, StreamSpec, Subscription } from "../bus/event-bus.js";
import { subjectMatches } from "../bus/subject.js";
import { streamKeys, streamRegistryKey, validateName } from "./redis-streams-keys.js";
import { bindScripts } from "./redis-streams-scripts.js";
import { startSubscription } from "./redis-streams-subscription.js";
import { DEFAULT_NOT_READY_AFTER_MS, validateNotReadyAfter } from "../readiness/readiness.js";

export interface RedisStreamsBusOptions {
  /** Prefix of every key the bus writes; buses with different prefixes share nothing. Default `protomesh:`. */
  keyPrefix?: string | undefined;
  /**
   * Longest wait of an idle subscriber before it looks again for nak'ed messages coming due and
   * messages of dead consumers, ms. New messages end the wait at once. Default 1 000.
   */
  maxBlockMs?: number | undefined;
  /** Pause before a subscriber tries again after a Redis error, ms. Default 1 000. */
  retryDelayMs?: number | undefined;
  /** How long a publisher trusts its copy of the declared streams before reading them again, ms. Default 10 000. */
  registryRefreshMs?: number | undefined;
  /**
   * Retention of streams whose StreamSpec leaves `maxAgeMs` unset, ms: entries older than this are
   * trimmed on the next publish (XADD MINID), read or not. Redis holds streams in memory, so unlike JetStream the
   * default is not "keep everything". Default 7 days, the outbox's retention. 0 keeps everything.
   */
  defaultMaxAgeMs?: number | undefined;
  /**
   * How long a subscription may hear nothing from Redis (a read returns at least every
   * maxBlockMs) before its readiness says so, ms. Default: three maxBlockMs, at least
   * `DEFAULT_NOT_READY_AFTER_MS` (15 000).
   */
  notReadyAfterMs?: number | undefined;
  /** Subscribers idle this long with nothing pending are removed from their group when another starts, ms. Default 1 hour. */
  pruneConsumersAfterMs?: number | undefined;
  /** Errors a subscription survives (Redis down, group deleted) and failed nak/working/term calls. Default: ignored. */
  onError?: ((err: unknown) => void) | undefined;
}

const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;
const SEVEN_DAYS_MS = 7 * 24 * 3_600_000;

/**
 * The event bus on Redis Streams (ioredis): one Redis stream per StreamSpec, one consumer group
 * per durable, publish deduplicated by `messageId` in one script with the XADD (ADR 0055). The
 * client stays the caller's; each subscription opens one more connection (a duplicate) for its
 * blocking reads.
 */
export function createRedisStreamsBus(client: Redis, options: RedisStreamsBusOptions = {}): EventBus {
  const prefix = options.keyPrefix ?? "protomesh:";
  const maxBlockMs = options.maxBlockMs ?? 1_000;
  const retryDelayMs = options.retryDelayMs ?? 1_000;
  const registryRefreshMs = options.registryRefreshMs ?? 10_000;
  const defaultMaxAgeMs = options.defaultMaxAgeMs ?? SEVEN_DAYS_MS;
  const pruneConsumersAfterMs = options.pruneConsumersAfterMs ?? 3_600_000;
  const onError = options.onError ?? (() => undefined);
  const notReadyAfterMs = options.notReadyAfterMs ?? Math.max(DEFAULT_NOT_READY_AFTER_MS, 3 * maxBlockMs);
  for (const [name, value] of [
    ["maxBlockMs", maxBlockMs],
    ["retryDelayMs", retryDelayMs],
    ["registryRefreshMs", registryRefreshMs],
    ["pruneConsumersAfterMs", pruneConsumersAfterMs],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) throw new TypeError(`redis streams bus ${name} must be a positive integer, got ${value}`);
  }
  validateNotReadyAfter("redis streams bus", notReadyAfterMs, maxBlockMs, "the longest blocking read, maxBlockMs");
  if (!Number.isInteger(defaultMaxAgeMs) || defaultMaxAgeMs < 0) throw new TypeError(`redis streams bus defaultMaxAgeMs must be 0 or a positive integer, got ${defaultMaxAgeMs}`);
  const registryKey = streamRegistryKey(prefix);
  const scripts = bindScripts(client);
  const subscriptions = new Set<Subscription>();
  let declared = new Map<string, StreamSpec>();
  let declaredAt = -Infinity;

  const loadRegistry = async () => {
    const raw = await client.hgetall(registryKey);
    declared = new Map(Object.entries(raw).map(([name, json]) => [name, JSON.parse(json) as StreamSpec]));
    declaredAt = Date.now();
  };
  const captured = (subject: string) => [...declared.values()].find((s) => s.subjects.some((p) => subjectMatches(p, subject)));
  const streamFor = async (subject: string): Promise<StreamSpec> => {
    const cached = Date.now() - declaredAt < registryRefreshMs ? captured(subject) : undefined;
    if (cached) return cached;
    await loadRegistry();
    const found = captured(subject);
    if (!found) throw new Error(`no stream captures subject ${subject}; declare one with ensureStream`);
    return found;
  };

  return {
    async ensureStream(spec: StreamSpec) {
      validateName("stream", spec.name);
      if (spec.subjects.length === 0) throw new TypeError(`stream ${spec.name} must capture at least one subject`);
      const stored: StreamSpec = {
        name: spec.name,
        subjects: [...spec.subjects],
        duplicateWindowMs: spec.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS,
        maxAgeMs: spec.maxAgeMs ?? defaultMaxAgeMs,
      };
      await client.hset(registryKey, spec.name, JSON.stringify(stored));
      declared.set(spec.name, stored);
    },

    async publish(message: OutgoingMessage): Promise<PublishAck> {
      const spec = await streamFor(message.subject);
      const keys = streamKeys(prefix, spec.name);
      const windowMs = message.messageId === "" ? 0 : (spec.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS);
      const [sequence, duplicate] = await scripts.publish(
        [keys.stream, keys.sequence, keys.dedupe(message.messageId)],
        [message.subject, JSON.stringify(message.headers), message.data, windowMs, spec.maxAgeMs ?? 0],
      );
      return { stream: spec.name, sequence, duplicate: duplicate === 1 };
    },

    async subscribe(spec: ConsumerSpec, concurrency: number, handler: (delivery: Delivery) => Promise<void>) {
      validateName("durable", spec.durable);
      if (!Number.isInteger(concurrency) || concurrency < 1) throw new TypeError(`subscription concurrency must be a positive integer, got ${concurrency}`);
      const json = await client.hget(registryKey, spec.stream);
      if (json === null) throw new Error(`stream ${spec.stream} not found; declare it with ensureStream`);
      const keys = streamKeys(prefix, spec.stream);
      const ensureGroup = async () => {
        // After Redis restarted empty, the declaration is gone too: put this process's copy back.
        await client.hsetnx(registryKey, spec.stream, json);
        try {
          await client.xgroup("CREATE", keys.stream, spec.durable, "0", "MKSTREAM");
        } catch (err) {
          if (!String((err as Error).message).startsWith("BUSYGROUP")) throw err;
        }
        await scripts.prune([keys.stream], [spec.durable, pruneConsumersAfterMs]);
      };
      const subscription = await startSubscription({ client, scripts, keys, ensureGroup, maxBlockMs, retryDelayMs, notReadyAfterMs, onError }, spec, concurrency, handler);
      const tracked: Subscription = {
        stop: async () => {
          subscriptions.delete(tracked);
          await subscription.stop();
        },
        readiness: () => subscription.readiness(),
      };
      subscriptions.add(tracked);
      return tracked;
    },

    async close() {
      await Promise.all([...subscriptions].map((s) => s.stop()));
    },
  };
}
