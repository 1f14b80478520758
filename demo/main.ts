// npm run demo: brings the shop up (several replicas per service when a PostgreSQL server is
// configured), drives orders through the typed clients over mTLS, optionally kills replicas
// while it runs, and checks every invariant of the saga at the end.
import { parseArgs } from "node:util";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { boundedNumber } from "./cli.js";
import { abortOnSignals, INTERRUPTED_EXIT_CODE } from "./interrupt.js";
import { findNats, NoNatsError } from "./nats.js";
import { prepareDatabases } from "./databases.js";
import { runDemo, type DemoOptions } from "./run-demo.js";
import { printSummary } from "./summary.js";

const usage = `usage: npm run demo -- [--orders N] [--replicas N] [--chaos] [--decline-rate R] [--concurrency N] [--deadline-ms MS]`;

function parseOptions(argv: string[]): DemoOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      orders: { type: "string", default: "300" },
      replicas: { type: "string" },
      chaos: { type: "boolean", default: false },
      "decline-rate": { type: "string", default: "0.2" },
      // A few clients at a time: the latency printed is an order's own, not a queue's (docs/adr/0149).
      concurrency: { type: "string", default: "4" },
      "deadline-ms": { type: "string", default: "20000" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  return {
    orders: boundedNumber("orders", values.orders, 1, 100_000),
    replicas: values.replicas === undefined ? undefined : boundedNumber("replicas", values.replicas, 1, 8),
    chaos: values.chaos,
    declineRate: boundedNumber("decline-rate", values["decline-rate"], 0, 1),
    concurrency: boundedNumber("concurrency", values.concurrency, 1, 512),
    sagaDeadlineMs: boundedNumber("deadline-ms", values["deadline-ms"], 1000, 600_000),
  };
}

async function main(): Promise<number> {
  let options: DemoOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    return 2;
  }
  if (!existsSync(join(import.meta.dirname, "..", "services", "serve.js")) && !existsSync(join(import.meta.dirname, "..", "services", "serve.ts"))) {
    console.error("services are not built: run npm run build (npm run demo does it for you)");
    return 1;
  }
  const interrupted = abortOnSignals();
  let nats;
  try {
    nats = await findNats();
  } catch (error) {
    if (error instanceof NoNatsError) {
      console.error(error.message);
      return 1;
    }
    throw error;
  }
  const databases = await prepareDatabases(process.env.DATABASE_URL);
  // A failed run keeps its databases: what went wrong is in them. A run that passed, or that
  // Ctrl-C stopped, removes them.
  let failed = true;
  try {
    const result = await runDemo(options, { nats, databases }, interrupted);
    printSummary(result);
    failed = result.report.violations.length > 0 || result.unfinished > 0;
    return failed ? 1 : 0;
  } catch (error) {
    if (interrupted.aborted) {
      failed = false;
      return INTERRUPTED_EXIT_CODE;
    }
    console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    if (failed) console.error(databases.whereKept().join("\n"));
    else await databases.dispose();
    await nats.stop();
  }
}

process.exitCode = await main();
