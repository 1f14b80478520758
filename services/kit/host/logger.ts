// Structured JSON logs (pino) for services. Nest's own messages go through the same logger,
// so one process writes one format.
import type { LoggerService } from "@nestjs/common";
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(service: string, level: string): Logger {
  return pino({ level, base: { service, pid: process.pid } });
}

/** Nest's LoggerService on top of pino, so framework messages are JSON lines too. */
export function nestLogger(logger: Logger): LoggerService {
  const write = (level: "info" | "warn" | "error" | "debug" | "trace") => (message: unknown, ...rest: unknown[]) => {
    const context = rest.at(-1);
    logger[level]({ context: typeof context === "string" ? context : undefined }, String(message));
  };
  // Nest narrates start-up at "log" level; that is debug detail next to our one "listening" line.
  return { log: write("debug"), warn: write("warn"), error: write("error"), debug: write("debug"), verbose: write("trace") };
}
