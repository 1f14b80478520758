// Service configuration comes from environment variables, validated once at start-up: a bad
// value stops the process with a message naming the variable, never a crash later.
import { z } from "zod";

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly configError = true;
  /** One line per offending variable: "PORT: must be an integer between 0 and 65535 (got "abc")". */
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.problems = problems;
  }
}

export function isConfigError(err: unknown): err is ConfigError {
  return typeof err === "object" && err !== null && (err as { configError?: unknown }).configError === true;
}

/** Parses `env` with a schema whose keys are variable names; throws ConfigError naming each bad one. */
export function parseEnv<Schema extends z.ZodType>(schema: Schema, env: Record<string, string | undefined>): z.output<Schema> {
  // Unset and empty are the same to a shell user ("FOO= npm run serve").
  const defined = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ""));
  const result = schema.safeParse(defined);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const variable = issue.path.join(".");
      const got = typeof issue.path[0] === "string" ? defined[issue.path[0]] : undefined;
      return `${variable}: ${issue.message}${got === undefined ? "" : ` (got ${JSON.stringify(got)})`}`;
    }),
  );
}

const positiveInt = () => z.coerce.number({ error: "must be a whole number" }).int("must be a whole number").min(1, "must be at least 1");

/** Reusable variable parsers with messages a person can act on. */
export const env = {
  port: (fallback: number) =>
    z.coerce
      .number({ error: "must be a port number" })
      .int("must be an integer between 0 and 65535")
      .min(0, "must be an integer between 0 and 65535")
      .max(65535, "must be an integer between 0 and 65535")
      .default(fallback),
  milliseconds: (fallback: number) =>
    z.coerce.number({ error: "must be a number of milliseconds" }).int("must be a whole number of milliseconds").min(0, "must not be negative").default(fallback),
  positiveInt: (fallback: number) => positiveInt().default(fallback),
  /** A whole number of at least 1, or unset (the component's own default applies). */
  optionalPositiveInt: () => positiveInt().max(2 ** 31 - 1, "must be at most 2147483647").optional(),
  rate: (fallback: number) => z.coerce.number({ error: "must be a number" }).min(0, "must be between 0 and 1").max(1, "must be between 0 and 1").default(fallback),
  url: (protocols: readonly string[]) =>
    z.string().refine(
      (value) => {
        try {
          return protocols.includes(new URL(value).protocol.replace(/:$/, ""));
        } catch {
          return false;
        }
      },
      { message: `must be a URL starting with ${protocols.map((p) => `${p}://`).join(" or ")}` },
    ),
  /**
   * Comma-separated servers, each a URL with one of `protocols` or a bare host[:port] (which
   * clients read with the first protocol), e.g. NATS_URL.
   */
  serverList: (protocols: readonly string[]) =>
    z.string().transform((value, ctx) => {
      const entries = value
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item.length > 0);
      for (const entry of entries) {
        if (!isServer(entry, protocols)) {
          ctx.addIssue({ code: "custom", message: `each entry must be ${protocols.map((p) => `${p}://host:port`).join(" or ")} (or host:port); ${JSON.stringify(entry)} is not` });
        }
      }
      return entries;
    }),
  list: () =>
    z.string().transform((value) =>
      value
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item.length > 0),
    ),
  logLevel: () => z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], { error: "must be one of fatal, error, warn, info, debug, trace, silent" }).default("info"),
};

function isServer(entry: string, protocols: readonly string[]): boolean {
  if (/\s/.test(entry)) return false;
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(entry);
  try {
    const url = new URL(hasScheme ? entry : `${protocols[0] ?? "http"}://${entry}`);
    return protocols.includes(url.protocol.replace(/:$/, "")) && url.hostname !== "" && (url.pathname === "" || url.pathname === "/") && url.search === "";
  } catch {
    return false;
  }
}

/** A URL variable's value fit for logs and messages: its password replaced by "***". Anything else is returned as it is. */
export function redactedUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password === "") return value;
    url.password = "***";
    return url.toString();
  } catch {
    return value;
  }
}
