import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PROTOMESH_TELEMETRY_VERSION } from "./version.js";

describe("PROTOMESH_TELEMETRY_VERSION", () => {
  it("is the version in the package's package.json", () => {
    const pkg = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as { version: string };
    expect(PROTOMESH_TELEMETRY_VERSION).toBe(pkg.version);
  });
});
