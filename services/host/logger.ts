// Structured JSON logs (pino) for services. Nest's own messages go through the same logger,
// so one process writes one format.
import type { LoggerService } from "@nestjs/common";
import { trace } from "@opentelemetry/api";
import { pino, type DestinationStream, type Logger, type LoggerOptions } from "pino";

export type { Logger };

/**
 * JSON lines with the service, and the trace and span ids of the call or event being handled
 * (when tracing is on), so a log line leads to its trace. Credentials that end up in a logged
 * object (headers, connection options) are censored.
 */
export function createLogger(service: string, level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service, pid: process.pid },
    mixin: traceFields,
    redact: { paths: ["*.authorization", "*.password", "*.token", "*.secret", "headers.authorization", "*.headers.authorization"], censor: "[redacted]" },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

function traceFields(): object {
  const span = trace.getActiveSpan();
  // A fresh object each time: pino merges the logged object's fields into what the mixin returns.
  if (span === undefined) return {};
  const { traceId, spanId, traceFlags } = span.spanContext();
  return { trace_id: traceId, span_id: spanId, trace_flags: traceFlags };
}

/** Nest's LoggerService on top of pino, so framework messages are JSON lines too. */
export function nestLogger(logger: Logger): LoggerService {
  const write = (level: "info" | "warn" | "error" | "debug" | "trace") => (message: unknown, ...rest: unknown[]) => {
    const context = rest.at(-1);
    logger[level]({ context: typeof context === "string" ? context : undefined }, String(message));
  };
  const error = write("error");
  return {
    // Nest narrates start-up at "log" level; that is debug detail next to our one "listening" line.
    log: write("debug"),
    warn: write("warn"),
    // Nest's ExceptionHandler logs an error that it then rethrows (the host creates apps with
    // abortOnError: false); the host reports it once, a start-up failure in one line (ADR 0124).
    error: (message: unknown, ...rest: unknown[]) => (rest.at(-1) === "ExceptionHandler" ? undefined : error(message, ...rest)),
    debug: write("debug"),
    verbose: write("trace"),
  };
}
