import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Address } from "../address.js";
import { StaticResolver } from "./static.js";
import { WeightedResolver } from "./weighted.js";
import { watchWeightsFile } from "./weights-file.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(initial: string) {
  const dir = await mkdtemp(path.join(tmpdir(), "protomesh-weights-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, "items.json");
  await writeFile(file, initial);
  const resolver = new WeightedResolver([
    { name: "stable", weight: 100, resolver: new StaticResolver([{ host: "127.0.0.1", port: 1 }]) },
    { name: "canary", weight: 0, resolver: new StaticResolver([{ host: "127.0.0.1", port: 2 }]) },
  ]);
  const reported: (readonly Address[])[] = [];
  resolver.start({ onUpdate: (a) => reported.push(a), onError: () => undefined });
  cleanups.push(() => resolver.close());
  return { file, resolver, reported };
}

// Replaced as an operator or Kubernetes replaces it: a file written in place can be polled while
// it is half-written (empty), and that read's JSON error would be reported before the change's.
async function replaceFile(file: string, text: string): Promise<void> {
  await writeFile(`${file}.next`, text);
  await rename(`${file}.next`, file);
}

async function until(check: () => boolean): Promise<void> {
  for (const end = Date.now() + 5_000; !check(); ) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("watchWeightsFile", () => {
  it("applies the file's weights at once and again whenever the file changes", async () => {
    const { file, resolver, reported } = await setUp('{"stable": 90, "canary": 10}');
    const changes: Record<string, number>[] = [];
    cleanups.push(watchWeightsFile(resolver, file, { intervalMs: 20, onChange: (w) => changes.push(w) }));
    expect(resolver.weights()).toEqual({ stable: 90, canary: 10 });
    await replaceFile(file, '{"stable": 50, "canary": 50}');
    await until(() => changes.length > 0);
    expect(resolver.weights()).toEqual({ stable: 50, canary: 50 });
    await until(() => reported.at(-1)?.every((a) => a.subset?.weight === 50) === true);
  });

  it("keeps the last good weights when a change is unreadable or refused, and says why", async () => {
    const { file, resolver } = await setUp('{"stable": 90, "canary": 10}');
    const errors: unknown[] = [];
    cleanups.push(watchWeightsFile(resolver, file, { intervalMs: 20, onError: (e) => errors.push(e) }));
    await replaceFile(file, '{"stable": 0, "canary": 0}');
    await until(() => errors.length > 0);
    expect(String(errors[0])).toMatch(/at least one subset needs a positive weight/);
    await replaceFile(file, '["stable", 90]');
    await until(() => errors.length > 1);
    expect(String(errors[1])).toMatch(/expected an object of subset names to weights/);
    expect(resolver.weights()).toEqual({ stable: 90, canary: 10 });
  });

  it("refuses a bad file at start", async () => {
    const { file, resolver } = await setUp('{"stable": 90, "shadow": 10}');
    expect(() => watchWeightsFile(resolver, file)).toThrow(/no subset named shadow/);
  });
});
