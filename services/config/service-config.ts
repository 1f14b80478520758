// The variables every service reads, with their defaults. Each service extends this with its
// own (services/<name>/config.ts).
import { z } from "zod";
import type { ServerLimits } from "@protomesh/server";
import { type ConfiguredPath, pathsOf } from "./config-paths.js";
import { env } from "./env-config.js";

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** When set, clients must present a certificate issued by this CA (mTLS). */
  caFile: string | undefined;
}

/** The server's bounds (ADR 126), each settable by a variable; unset, the toolkit's default. */
const serverLimitVariables = {
  SERVER_MAX_CONNECTIONS: "maxConnections",
  SERVER_MAX_STREAMS_PER_CONNECTION: "maxStreamsPerConnection",
  SERVER_MAX_CONCURRENT_CALLS: "maxConcurrentCalls",
  SERVER_MAX_STREAMING_CALLS_PER_CONNECTION: "maxStreamingCallsPerConnection",
  SERVER_MAX_STREAMING_CALLS_PER_CALLER: "maxStreamingCallsPerCaller",
  SERVER_MAX_BUFFERED_REQUEST_BYTES: "maxBufferedRequestBytes",
  SERVER_HANDSHAKE_TIMEOUT_MS: "handshakeTimeoutMs",
  SERVER_REQUEST_TIMEOUT_MS: "requestTimeoutMs",
  SERVER_IDLE_TIMEOUT_MS: "idleTimeoutMs",
} as const satisfies Record<string, keyof ServerLimits>;

type ServerLimitVariable = keyof typeof serverLimitVariables;

export function commonVariables(defaultPort: number) {
  return {
    ...(Object.fromEntries(Object.keys(serverLimitVariables).map((name) => [name, env.optionalPositiveInt()])) as Record<ServerLimitVariable, ReturnType<typeof env.optionalPositiveInt>>),
    /** Interface to listen on. Default 127.0.0.1; set 0.0.0.0 in containers. */
    HOST: z.string().default("127.0.0.1"),
    /** gRPC / Connect / gRPC-Web port (one HTTP/2 port). */
    PORT: env.port(defaultPort),
    /** TLS certificate and key; both or neither. Without them the port speaks h2c (cleartext). */
    TLS_CERT_FILE: z.string().optional(),
    TLS_KEY_FILE: z.string().optional(),
    /** CA that client certificates must chain to; turns TLS into mTLS. */
    TLS_CA_FILE: z.string().optional(),
    /** PostgreSQL URL. Unset: embedded PGlite under DATA_DIR (or in memory when DATA_DIR=memory). */
    DATABASE_URL: env.url(["postgres", "postgresql"]).optional(),
    /** Connections each replica may open to PostgreSQL; size replicas × this within max_connections. Default 10. */
    DATABASE_POOL_SIZE: env.positiveInt(10),
    /** PGlite data directory when DATABASE_URL is unset. Default .data/<service>. */
    DATA_DIR: z.string().optional(),
    /** NATS server(s), comma-separated: nats://host:port, tls://host:port or host:port. Default nats://127.0.0.1:4222. */
    NATS_URL: env.serverList(["nats", "tls"]).default(["nats://127.0.0.1:4222"]),
    /** Copies a NATS cluster keeps of this service's stream (1, 3 or 5; R3 in production). Default 1. */
    NATS_STREAM_REPLICAS: z.coerce.number({ error: "must be 1, 3 or 5" }).refine((n) => [1, 3, 5].includes(n), "must be 1, 3 or 5").default(1),
    /** Redis for caching; unset disables the cache (the service stays correct without it). */
    REDIS_URL: env.url(["redis", "rediss"]).optional(),
    /** Saga event bus: jetstream (NATS JetStream) or redis (Redis Streams, ADR 0055). Default jetstream. */
    EVENT_BUS: z.enum(["jetstream", "redis"], { error: 'must be "jetstream" or "redis"' }).default("jetstream"),
    /** Redis of the event bus when EVENT_BUS=redis; default REDIS_URL. Give it AOF and noeviction (ADR 0056). */
    EVENT_REDIS_URL: env.url(["redis", "rediss"]).optional(),
    /**
     * How long a new connection to PostgreSQL, NATS or the event bus's Redis may take; at start-up
     * a dependency that does not answer within it stops the service with a line naming it. Default 5 s.
     */
    CONNECT_TIMEOUT_MS: env.milliseconds(5_000),
    /** How long in-flight calls and handlers may take to finish on SIGTERM. Default 10 s. */
    SHUTDOWN_GRACE_MS: env.milliseconds(10_000),
    LOG_LEVEL: env.logLevel(),
  };
}

type Common = z.output<z.ZodObject<ReturnType<typeof commonVariables>>>;

export interface CommonServiceConfig {
  host: string;
  port: number;
  tls: TlsFiles | undefined;
  /** PostgreSQL by URL, or PGlite in a directory ("memory" keeps it in memory). */
  database: { url: string; poolSize: number } | { dataDir: string };
  natsServers: string[];
  streamReplicas: number;
  redisUrl: string | undefined;
  /** Where saga events travel; the handlers are the same on both. `variable` names where the Redis URL came from. */
  eventBus: { kind: "jetstream" } | { kind: "redis"; url: string; variable: "EVENT_REDIS_URL" | "REDIS_URL" };
  connectTimeoutMs: number;
  shutdownGraceMs: number;
  logLevel: Common["LOG_LEVEL"];
  /** The server bounds set by SERVER_* variables; the others keep the toolkit's defaults. */
  serverLimits: ServerLimits;
  /** Files and directories the variables name, checked at start-up (`checkConfiguredPaths`). */
  paths: ConfiguredPath[];
}

/** Shapes the common variables into options; call from a service schema's transform. */
export function commonConfig(service: string, vars: Common, addIssue: (variable: string, message: string) => void): CommonServiceConfig {
  if ((vars.TLS_CERT_FILE === undefined) !== (vars.TLS_KEY_FILE === undefined)) {
    addIssue(vars.TLS_CERT_FILE === undefined ? "TLS_CERT_FILE" : "TLS_KEY_FILE", "TLS_CERT_FILE and TLS_KEY_FILE must be set together");
  }
  if (vars.TLS_CA_FILE !== undefined && vars.TLS_CERT_FILE === undefined) {
    addIssue("TLS_CA_FILE", "requires TLS_CERT_FILE and TLS_KEY_FILE (mTLS needs a server certificate)");
  }
  const eventRedisUrl = vars.EVENT_REDIS_URL ?? vars.REDIS_URL;
  if (vars.EVENT_BUS === "redis" && eventRedisUrl === undefined) addIssue("EVENT_BUS", "redis needs EVENT_REDIS_URL (or REDIS_URL)");
  if (vars.CONNECT_TIMEOUT_MS < 100) addIssue("CONNECT_TIMEOUT_MS", "must be at least 100 ms");
  const dataDir = vars.DATA_DIR ?? `.data/${service}`;
  const paths = pathsOf([
    ["TLS_CERT_FILE", vars.TLS_CERT_FILE, "certificates"],
    ["TLS_KEY_FILE", vars.TLS_KEY_FILE, "private key"],
    ["TLS_CA_FILE", vars.TLS_CA_FILE, "certificates"],
    ["DATA_DIR", vars.DATABASE_URL === undefined && dataDir !== "memory" ? dataDir : undefined, "directory"],
  ]);
  return {
    host: vars.HOST,
    port: vars.PORT,
    tls:
      vars.TLS_CERT_FILE !== undefined && vars.TLS_KEY_FILE !== undefined
        ? { certFile: vars.TLS_CERT_FILE, keyFile: vars.TLS_KEY_FILE, caFile: vars.TLS_CA_FILE }
        : undefined,
    database: vars.DATABASE_URL !== undefined ? { url: vars.DATABASE_URL, poolSize: vars.DATABASE_POOL_SIZE } : { dataDir },
    natsServers: vars.NATS_URL,
    streamReplicas: vars.NATS_STREAM_REPLICAS,
    redisUrl: vars.REDIS_URL,
    eventBus:
      vars.EVENT_BUS === "redis" && eventRedisUrl !== undefined
        ? { kind: "redis", url: eventRedisUrl, variable: vars.EVENT_REDIS_URL === undefined ? "REDIS_URL" : "EVENT_REDIS_URL" }
        : { kind: "jetstream" },
    connectTimeoutMs: vars.CONNECT_TIMEOUT_MS,
    shutdownGraceMs: vars.SHUTDOWN_GRACE_MS,
    logLevel: vars.LOG_LEVEL,
    serverLimits: Object.fromEntries(
      Object.entries(serverLimitVariables).flatMap(([variable, limit]) => (vars[variable as ServerLimitVariable] === undefined ? [] : [[limit, vars[variable as ServerLimitVariable]]])),
    ),
    paths,
  };
}

/** Builds a zod schema from common + service variables and a shaping function, reporting issues by variable name. */
export function serviceConfigSchema<Extra extends z.ZodRawShape, Config>(
  service: string,
  defaultPort: number,
  extra: Extra,
  shape: (common: CommonServiceConfig, vars: z.output<z.ZodObject<Extra>>, addIssue: (variable: string, message: string) => void) => Config,
) {
  return z.object({ ...commonVariables(defaultPort), ...extra }).transform((vars, ctx) => {
    const addIssue = (variable: string, message: string) => ctx.addIssue({ code: "custom", path: [variable], message });
    const common = commonConfig(service, vars as Common, addIssue);
    return shape(common, vars as z.output<z.ZodObject<Extra>>, addIssue);
  });
}
