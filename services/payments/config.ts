import { z } from "zod";
import { env, parseEnv, serviceConfigSchema } from "../config/index.js";

const schema = serviceConfigSchema(
  "payments",
  50053,
  {
    /** Share of orders the simulated processor declines. Default 0. */
    PAYMENT_DECLINE_RATE: env.rate(0),
    /** Simulated processor round trip. Default 0 ms. */
    PAYMENT_LATENCY_MS: env.milliseconds(0),
    /** Share of charge attempts that fail transiently (the event is retried). Default 0. */
    PAYMENT_TRANSIENT_FAILURE_RATE: env.rate(0),
    /** Amounts above this many minor units are declined. Default: no limit. */
    PAYMENT_LIMIT_MINOR: z.coerce.bigint({ error: "must be a whole number of minor units" }).optional(),
    /** Users whose charges are always declined, comma-separated. */
    PAYMENT_DECLINED_USERS: env.list().default([]),
  },
  (common, vars) => ({
    ...common,
    simulator: {
      declineRate: vars.PAYMENT_DECLINE_RATE,
      latencyMs: vars.PAYMENT_LATENCY_MS,
      transientFailureRate: vars.PAYMENT_TRANSIENT_FAILURE_RATE,
      declinedUsers: vars.PAYMENT_DECLINED_USERS,
      ...(vars.PAYMENT_LIMIT_MINOR === undefined ? {} : { limitMinor: vars.PAYMENT_LIMIT_MINOR }),
    },
  }),
);

export type PaymentsConfig = ReturnType<typeof loadPaymentsConfig>;

export function loadPaymentsConfig(environment: Record<string, string | undefined> = process.env) {
  return parseEnv(schema, environment);
}
