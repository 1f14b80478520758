import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { findViolations } from "./boundaries.js";

const root = resolve(import.meta.dirname, "..");
const source = (path: string) => readFileSync(resolve(root, path), "utf8");

describe("the toolkit's boundary check", () => {
  it("passes on the tree", () => {
    expect(findViolations(root)).toEqual([]);
  });

  it("fails when a core entry reaches Nest through a file in between", () => {
    const violations = findViolations(root, {
      "kit/server/server/connect-server.ts": `${source("kit/server/server/connect-server.ts")}\nimport "./planted.js";\n`,
      "kit/server/server/planted.ts": `import { Injectable } from "@nestjs/common";\nexport const planted = Injectable;\n`,
    });
    expect(violations).toContainEqual({
      file: "kit/server/server/planted.ts",
      specifier: "@nestjs/common",
      rule: "reaches a framework from the core entry @protomesh/server",
    });
  });

  it("fails when a package imports the shop or its generated code", () => {
    const violations = findViolations(root, {
      "kit/data/index.ts": `${source("kit/data/index.ts")}\nexport * from "../../gen/shop/orders/v1/orders_pb.js";\n`,
      "clients/index.ts": `${source("clients/index.ts")}\nexport { createOrdersClient } from "protomesh/services/clients";\n`,
      "kit/messaging/outbox/outbox.test.ts": `import { OrdersService } from "../../../gen/shop/orders/v1/orders_pb.js";\nvoid OrdersService;\n`,
    });
    expect(violations.map(({ file, rule }) => `${file}: ${rule}`)).toEqual(
      expect.arrayContaining([
        "kit/data/index.ts: reaches outside kit/data/ (gen/shop/orders/v1/orders_pb.ts)",
        "clients/index.ts: imports the shop's root package",
        "kit/messaging/outbox/outbox.test.ts: a toolkit test imports the shop; use the test-only contract (test/contract)",
      ]),
    );
  });

  it("fails when a package imports something it does not declare", () => {
    const violations = findViolations(root, {
      "kit/cache/index.ts": `${source("kit/cache/index.ts")}\nexport { drizzle } from "drizzle-orm/node-postgres";\n`,
    });
    expect(violations).toContainEqual({
      file: "kit/cache/index.ts",
      specifier: "drizzle-orm/node-postgres",
      rule: "imports drizzle-orm, which @protomesh/cache does not declare",
    });
  });
});
