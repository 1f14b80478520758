import { z } from "zod";
import { ConfigError, env, parseEnv, pathsOf, serviceConfigSchema } from "../config/index.js";
import { MIN_SECRET_BYTES } from "./gateway/access-token.js";

const HOST_PORT = /^(\[[0-9a-fA-F:]+\]|[^:/\s]+):\d{1,5}$/;

/** An inventory shard and where its replicas are (INVENTORY_SHARD_TARGETS). */
export interface InventoryShardTarget {
  name: string;
  target: string[];
}

function inventoryShards(names: string[] | undefined, targets: string | undefined, addIssue: (variable: string, message: string) => void): InventoryShardTarget[] | undefined {
  if (names === undefined && targets === undefined) return undefined;
  if (names === undefined || targets === undefined) {
    addIssue(names === undefined ? "INVENTORY_SHARDS" : "INVENTORY_SHARD_TARGETS", "set INVENTORY_SHARDS and INVENTORY_SHARD_TARGETS together, or neither");
    return undefined;
  }
  if (names.length === 0 || new Set(names).size !== names.length) addIssue("INVENTORY_SHARDS", "must list unique shard names");
  const byName = new Map<string, string[]>();
  for (const entry of targets.split(";").map((e) => e.trim()).filter((e) => e.length > 0)) {
    const [name = "", list = ""] = entry.split("=", 2).map((part) => part.trim());
    const target = list.split(",").map((t) => t.trim()).filter((t) => t.length > 0);
    if (!names.includes(name)) addIssue("INVENTORY_SHARD_TARGETS", `${JSON.stringify(name)} is not one of INVENTORY_SHARDS (${names.join(",")})`);
    else if (byName.has(name)) addIssue("INVENTORY_SHARD_TARGETS", `shard ${name} is listed twice`);
    if (target.length === 0 || target.some((t) => !HOST_PORT.test(t))) addIssue("INVENTORY_SHARD_TARGETS", `shard ${name}: the target must be host:port entries, comma-separated; ${JSON.stringify(list)} is not`);
    byName.set(name, target);
  }
  for (const name of names) if (!byName.has(name)) addIssue("INVENTORY_SHARD_TARGETS", `no target for shard ${name}`);
  return names.map((name) => ({ name, target: byName.get(name) ?? [] }));
}

const schema = serviceConfigSchema(
  "orders",
  50051,
  {
    /**
     * Where inventory runs, for the balanced client: one "host:port" (a DNS name is resolved
     * and re-resolved, e.g. a Kubernetes headless service) or a comma-separated static list.
     * Default 127.0.0.1:50052.
     */
    INVENTORY_TARGET: env.list().default(["127.0.0.1:50052"]),
    /**
     * A canary release of inventory, in INVENTORY_TARGET's form: calls are split between
     * INVENTORY_TARGET ("stable") and this ("canary") by INVENTORY_WEIGHTS_FILE. Unset (default): no canary.
     */
    INVENTORY_CANARY_TARGET: env.list().optional(),
    /**
     * JSON weights of the two subsets, e.g. {"stable": 90, "canary": 10}; required with
     * INVENTORY_CANARY_TARGET. Re-read when it changes, so promotion and rollback need no restart.
     */
    INVENTORY_WEIGHTS_FILE: z.string().optional(),
    /** Client certificate, key and CA for calling inventory over mTLS. Default: the server's TLS files. */
    CLIENT_CERT_FILE: z.string().optional(),
    CLIENT_KEY_FILE: z.string().optional(),
    CLIENT_CA_FILE: z.string().optional(),
    /** How long a saga may run before the tracker cancels the order. Default 30 s. */
    SAGA_DEADLINE_MS: env.milliseconds(30_000),
    /** How often the tracker looks for orders past their deadline. Default 1 s. */
    SAGA_SWEEP_INTERVAL_MS: env.milliseconds(1_000),
    /**
     * Every inventory shard, comma-separated, the same list as inventory's (ADR 0105). Unset
     * (default): inventory is not sharded and INVENTORY_TARGET says where it runs.
     */
    INVENTORY_SHARDS: env.list().optional(),
    /**
     * Where each shard runs, with INVENTORY_SHARDS: ";"-separated "<shard>=<target>" entries, a
     * target in INVENTORY_TARGET's form ("inventory-0=10.0.0.1:50052,10.0.0.2:50052;inventory-1=inventory-1:50052").
     */
    INVENTORY_SHARD_TARGETS: z.string().optional(),
    /** "grpc" (default): QuoteItems through the balanced client; "nats": request/reply to any inventory replica. */
    INVENTORY_TRANSPORT: z.enum(["grpc", "nats"], { error: 'must be "grpc" or "nats"' }).default("grpc"),
    /**
     * How long a cached order answers GetOrder without the database, when REDIS_URL is set.
     * Every status change invalidates at once; this bounds a lost invalidation. Default 5 s.
     */
    ORDER_CACHE_TTL_MS: env.milliseconds(5_000),
    /**
     * While inventory cannot answer, CreateOrder may price a basket from inventory's last answers
     * if each is at most this old (needs REDIS_URL); 0 turns the fallback off. Default 60 s.
     */
    QUOTE_FALLBACK_MAX_AGE_MS: env.milliseconds(60_000),
    /**
     * Orders one user may place per window, counted across replicas through Redis (per replica
     * without it). Default 0: no limit, since the right number depends on the deployment.
     */
    CREATE_ORDER_LIMIT: z.coerce.number({ error: "must be a whole number" }).int("must be a whole number").min(0, "must not be negative").default(0),
    /** The window of CREATE_ORDER_LIMIT, in whole seconds' worth of ms. Default 60 s. */
    CREATE_ORDER_LIMIT_WINDOW_MS: env.milliseconds(60_000),
    /**
     * How often WatchOrder re-reads every watched order (in batches, whatever the number of
     * watchers) to catch a change notification lost without a reconnect. Default 10 s.
     */
    WATCH_ORDER_RESYNC_INTERVAL_MS: env.milliseconds(10_000),
    /** Port of the order status WebSocket gateway (Socket.IO) on HOST. Unset: no gateway. */
    WS_PORT: env.port(0).unwrap().optional(),
    /** HS256 secret (at least 32 bytes) of the bearer tokens the gateway accepts; required with WS_PORT. */
    WS_TOKEN_SECRET: z.string().optional(),
    /** Most sockets one user may hold open on each gateway replica; one more is refused at the handshake. Default 10. */
    WS_MAX_SOCKETS_PER_USER: env.positiveInt(10),
    /** Prefix of the gateway's Redis pub/sub channels (with REDIS_URL); replicas sharing it share pushes. Default orders-status. */
    WS_REDIS_CHANNEL: z.string().default("orders-status"),
  },
  (common, vars, addIssue) => {
    for (const [variable, targets] of [["INVENTORY_TARGET", vars.INVENTORY_TARGET], ["INVENTORY_CANARY_TARGET", vars.INVENTORY_CANARY_TARGET ?? []]] as const) {
      for (const target of targets) if (!HOST_PORT.test(target)) addIssue(variable, `each entry must be host:port; ${JSON.stringify(target)} is not`);
    }
    if ((vars.INVENTORY_CANARY_TARGET === undefined) !== (vars.INVENTORY_WEIGHTS_FILE === undefined)) {
      addIssue(vars.INVENTORY_CANARY_TARGET === undefined ? "INVENTORY_CANARY_TARGET" : "INVENTORY_WEIGHTS_FILE", "INVENTORY_CANARY_TARGET and INVENTORY_WEIGHTS_FILE go together: the file says the canary's share");
    }
    if (vars.INVENTORY_CANARY_TARGET !== undefined && vars.INVENTORY_SHARDS !== undefined) {
      addIssue("INVENTORY_CANARY_TARGET", "a canary of sharded inventory is not supported: release a shard's canary by its INVENTORY_SHARD_TARGETS entry");
    }
    const shards = inventoryShards(vars.INVENTORY_SHARDS, vars.INVENTORY_SHARD_TARGETS, addIssue);
    if (shards !== undefined && vars.INVENTORY_TRANSPORT !== "grpc") addIssue("INVENTORY_TRANSPORT", "must be grpc with INVENTORY_SHARDS: the NATS stock lookup cannot route by shard");
    if (vars.INVENTORY_CANARY_TARGET !== undefined && vars.INVENTORY_TRANSPORT !== "grpc") addIssue("INVENTORY_TRANSPORT", "must be grpc with INVENTORY_CANARY_TARGET: the NATS stock lookup cannot weight a canary");
    if (vars.SAGA_DEADLINE_MS < 100) addIssue("SAGA_DEADLINE_MS", "must be at least 100 ms");
    if (vars.ORDER_CACHE_TTL_MS < 1) addIssue("ORDER_CACHE_TTL_MS", "must be at least 1 ms");
    if (vars.WATCH_ORDER_RESYNC_INTERVAL_MS < 100) addIssue("WATCH_ORDER_RESYNC_INTERVAL_MS", "must be at least 100 ms");
    if (vars.CREATE_ORDER_LIMIT_WINDOW_MS < 1000 || vars.CREATE_ORDER_LIMIT_WINDOW_MS % 1000 !== 0) addIssue("CREATE_ORDER_LIMIT_WINDOW_MS", "must be whole seconds in ms (1000, 60000, ...)");
    if (vars.WS_PORT !== undefined && vars.WS_TOKEN_SECRET === undefined) addIssue("WS_TOKEN_SECRET", "is required when WS_PORT is set (the gateway accepts only signed tokens)");
    return {
      ...common,
      paths: [
        ...common.paths,
        ...pathsOf([
          ["CLIENT_CERT_FILE", vars.CLIENT_CERT_FILE, "certificates"],
          ["CLIENT_KEY_FILE", vars.CLIENT_KEY_FILE, "private key"],
          ["CLIENT_CA_FILE", vars.CLIENT_CA_FILE, "certificates"],
        ]),
      ],
      inventory: {
        target: vars.INVENTORY_TARGET,
        canary: vars.INVENTORY_CANARY_TARGET === undefined || vars.INVENTORY_WEIGHTS_FILE === undefined ? undefined : { target: vars.INVENTORY_CANARY_TARGET, weightsFile: vars.INVENTORY_WEIGHTS_FILE },
        shards,
        tls: {
          certFile: vars.CLIENT_CERT_FILE ?? common.tls?.certFile,
          keyFile: vars.CLIENT_KEY_FILE ?? common.tls?.keyFile,
          caFile: vars.CLIENT_CA_FILE ?? common.tls?.caFile,
        },
      },
      saga: { deadlineMs: vars.SAGA_DEADLINE_MS, sweepIntervalMs: vars.SAGA_SWEEP_INTERVAL_MS },
      inventoryTransport: vars.INVENTORY_TRANSPORT,
      orderCacheTtlMs: vars.ORDER_CACHE_TTL_MS,
      watchOrderResyncIntervalMs: vars.WATCH_ORDER_RESYNC_INTERVAL_MS,
      quoteFallbackMaxAgeMs: vars.QUOTE_FALLBACK_MAX_AGE_MS,
      createOrderLimit: vars.CREATE_ORDER_LIMIT === 0 ? undefined : { limit: vars.CREATE_ORDER_LIMIT, windowMs: vars.CREATE_ORDER_LIMIT_WINDOW_MS },
      statusGateway:
        vars.WS_PORT === undefined || vars.WS_TOKEN_SECRET === undefined
          ? undefined
          : {
              host: common.host,
              port: vars.WS_PORT,
              tokenSecret: vars.WS_TOKEN_SECRET,
              maxSocketsPerUser: vars.WS_MAX_SOCKETS_PER_USER,
              redisUrl: common.redisUrl,
              channelPrefix: vars.WS_REDIS_CHANNEL,
            },
    };
  },
);

export type OrdersConfig = ReturnType<typeof loadOrdersConfig>;

export function loadOrdersConfig(environment: Record<string, string | undefined> = process.env) {
  const config = parseEnv(schema, environment);
  // Checked here rather than in the schema, whose messages quote the value: a secret stays out of logs.
  if (config.statusGateway !== undefined && Buffer.byteLength(config.statusGateway.tokenSecret) < MIN_SECRET_BYTES) {
    throw new ConfigError([`WS_TOKEN_SECRET: must be at least ${MIN_SECRET_BYTES} bytes (HS256)`]);
  }
  return config;
}
