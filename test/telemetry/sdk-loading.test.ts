// The OpenTelemetry SDK costs a service about 0.8 s of CPU to import, so @protomesh/telemetry
// loads it only when startTelemetry turns tracing or metrics on (ADR 0136). Each case runs the
// built package in a fresh Node process and lists the @opentelemetry packages it loaded.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const entry = resolve(import.meta.dirname, "../../kit/telemetry/dist/index.js");

// Module hooks see ESM resolution; OpenTelemetry's packages are CommonJS, so their own
// requires are seen through the CommonJS resolver. A resolve of "loaded-packages:" returns
// what the hooks saw so far, so nothing depends on when messages arrive.
const hooks = `
const seen = new Set();
export async function resolve(specifier, context, next) {
  if (specifier.startsWith("loaded-packages:")) return { url: "data:text/javascript,export default " + encodeURIComponent(JSON.stringify([...seen])), shortCircuit: true };
  const result = await next(specifier, context);
  seen.add(result.url);
  return result;
}`;

const probe = `
import Module, { register } from "node:module";
register("data:text/javascript," + encodeURIComponent(${JSON.stringify(hooks)}));
const required = new Set();
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (...args) {
  const file = resolveFilename.apply(this, args);
  required.add(file);
  return file;
};
let round = 0;
async function loadedPackages() {
  const { default: resolved } = await import("loaded-packages:" + round++);
  const packages = [...resolved, ...required].map((path) => [...path.matchAll(/node_modules\\/(@opentelemetry\\/[^/]+)/g)].at(-1)?.[1]);
  return [...new Set(packages.filter((name) => name !== undefined))].sort();
}
const { startTelemetry } = await import(${JSON.stringify(pathToFileURL(entry).href)});
const afterImport = await loadedPackages();
const telemetry = await startTelemetry(JSON.parse(process.argv[1]), JSON.parse(process.argv[2]));
const afterStart = await loadedPackages();
await telemetry.shutdown();
console.log(JSON.stringify({ afterImport, afterStart }));
`;

async function loadedBy(options: object, env: object = {}): Promise<{ afterImport: string[]; afterStart: string[] }> {
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build first (npm test does)`);
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", probe, JSON.stringify(options), JSON.stringify(env)], { timeout: 60_000 });
  return JSON.parse(stdout) as { afterImport: string[]; afterStart: string[] };
}

describe("loading the OpenTelemetry SDK", () => {
  it("loads only the API on import and when telemetry is off", async () => {
    const loaded = await loadedBy({ service: "billing" });
    expect(loaded.afterImport).toEqual(["@opentelemetry/api"]);
    expect(loaded.afterStart).toEqual(["@opentelemetry/api"]);
  });

  it("loads the metrics SDK and the Prometheus exporter, not tracing, when only metrics are on", async () => {
    const loaded = await loadedBy({ service: "billing", metricsPort: 0 });
    expect(loaded.afterImport).toEqual(["@opentelemetry/api"]);
    expect(loaded.afterStart).toEqual(expect.arrayContaining(["@opentelemetry/sdk-metrics", "@opentelemetry/exporter-prometheus", "@opentelemetry/resources"]));
    expect(loaded.afterStart).not.toContain("@opentelemetry/sdk-trace-base");
    expect(loaded.afterStart).not.toContain("@opentelemetry/exporter-trace-otlp-proto");
  });

  // The OTLP exporter itself requires sdk-metrics (its transformer covers metrics too).
  it("loads the tracing SDK and the OTLP exporter, not the Prometheus exporter, when only an OTLP endpoint is set", async () => {
    const loaded = await loadedBy({ service: "billing" }, { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" });
    expect(loaded.afterStart).toEqual(expect.arrayContaining(["@opentelemetry/sdk-trace-base", "@opentelemetry/exporter-trace-otlp-proto", "@opentelemetry/context-async-hooks"]));
    expect(loaded.afterStart).not.toContain("@opentelemetry/exporter-prometheus");
  });
});
