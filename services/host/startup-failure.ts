// A dependency that cannot be reached at start-up stops the service with one line that names it
// and the variable pointing at it ("NATS at NATS_URL=nats://nats:4222 did not answer within 5 s"),
// instead of the driver's own words ("timeout", "connection refused").
import type { Redis } from "ioredis";
import { redactedUrl } from "../config/index.js";

/** Start-up failed for a reason outside the configuration; the message is the line to print. */
export class StartupError extends Error {
  override readonly name = "StartupError";
}

/** "PostgreSQL at DATABASE_URL=postgres://app:***@db:5432/orders": the dependency, its variable and value, without credentials. */
export function dependencyAt(dependency: string, variable: string, value: string | readonly string[]): string {
  const values = typeof value === "string" ? [value] : value;
  return `${dependency} at ${variable}=${values.map(redactedUrl).join(",")}`;
}

/**
 * Runs a start-up step that talks to a dependency and is bounded by its own timeout
 * (`timeoutMs`, which the message quotes); its failure becomes a StartupError naming `what`.
 */
export async function reach<T>(what: string, timeoutMs: number, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    throw startupError(what, timeoutMs, error);
  }
}

/** The StartupError naming `what` for `error`, met while reaching it within `timeoutMs`. */
export function startupError(what: string, timeoutMs: number, error: unknown): StartupError {
  return new StartupError(failureOf(what, timeoutMs, error), { cause: error });
}

/** Resolves once the client has connected and answered; rejects at its first error or after `timeoutMs`. */
export function redisReady(client: Redis, timeoutMs: number): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      client.off("ready", onReady);
      client.off("error", done);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onReady = () => done();
    const timer = setTimeout(() => done(Object.assign(new Error("timeout"), { name: "TimeoutError" })), timeoutMs);
    client.once("ready", onReady);
    client.once("error", done);
  });
}

function failureOf(what: string, timeoutMs: number, error: unknown): string {
  for (let e: unknown = error, depth = 0; typeof e === "object" && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, name, message } = e as { code?: unknown; name?: unknown; message?: unknown };
    const text = typeof message === "string" ? message : "";
    if (code === "ECONNREFUSED" || /connection refused/i.test(text)) return `${what} refused the connection`;
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `${what}: its host name does not resolve`;
    if (name === "TimeoutError" || code === "ETIMEDOUT" || /^timeout$|timeout exceeded when trying to connect|connection timeout/i.test(text)) {
      return `${what} did not answer within ${timeoutMs / 1000} s`;
    }
    if (name === "JetStreamNotEnabled") return `${what} has JetStream off (run nats-server with -js)`;
  }
  return `${what}: ${describe(error)}`;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown };
  if (typeof message === "string") return message;
  return typeof name === "string" ? `${name} ${JSON.stringify(error)}` : String(error);
}
