import { z } from "zod";
import { env, parseEnv, serviceConfigSchema } from "../kit/config/index.js";

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
    /** Client certificate, key and CA for calling inventory over mTLS. Default: the server's TLS files. */
    CLIENT_CERT_FILE: z.string().optional(),
    CLIENT_KEY_FILE: z.string().optional(),
    CLIENT_CA_FILE: z.string().optional(),
    /** How long a saga may run before the tracker cancels the order. Default 30 s. */
    SAGA_DEADLINE_MS: env.milliseconds(30_000),
    /** How often the tracker looks for orders past their deadline. Default 1 s. */
    SAGA_SWEEP_INTERVAL_MS: env.milliseconds(1_000),
  },
  (common, vars, addIssue) => {
    for (const target of vars.INVENTORY_TARGET) {
      if (!/^(\[[0-9a-fA-F:]+\]|[^:/\s]+):\d{1,5}$/.test(target)) addIssue("INVENTORY_TARGET", `each entry must be host:port; ${JSON.stringify(target)} is not`);
    }
    if (vars.SAGA_DEADLINE_MS < 100) addIssue("SAGA_DEADLINE_MS", "must be at least 100 ms");
    return {
      ...common,
      inventory: {
        target: vars.INVENTORY_TARGET,
        tls: {
          certFile: vars.CLIENT_CERT_FILE ?? common.tls?.certFile,
          keyFile: vars.CLIENT_KEY_FILE ?? common.tls?.keyFile,
          caFile: vars.CLIENT_CA_FILE ?? common.tls?.caFile,
        },
      },
      saga: { deadlineMs: vars.SAGA_DEADLINE_MS, sweepIntervalMs: vars.SAGA_SWEEP_INTERVAL_MS },
    };
  },
);

export type OrdersConfig = ReturnType<typeof loadOrdersConfig>;

export function loadOrdersConfig(environment: Record<string, string | undefined> = process.env) {
  return parseEnv(schema, environment);
}
