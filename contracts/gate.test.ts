// Runs the real contract gate (scripts/contracts-check.sh) on a scratch copy of the contract
// workspace, after applying one edit, and checks that buf names the rule that caught it.
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";

const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, "..");
const workspaceEntries = [
  "buf.yaml",
  "buf.gen.yaml",
  "proto",
  "proto-vendor",
  "gen",
  "clients/buf.gen.yaml",
  "clients/gen",
  "kit/server/buf.gen.yaml",
  "kit/server/gen",
  "test/contract",
  "scripts",
  "contracts/baseline.binpb",
];

interface Edit {
  file: string;
  from: string | RegExp;
  to: string;
}

const ordersProto = "proto/shop/orders/v1/orders.proto";
const paymentsEvents = "proto/shop/payments/v1/events.proto";

const scratchDirs: string[] = [];
afterEach(() => {
  for (const dir of scratchDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratchWorkspace(edits: Edit[]): string {
  const dir = mkdtempSync(join(tmpdir(), "protomesh-gate-"));
  scratchDirs.push(dir);
  for (const entry of workspaceEntries) cpSync(join(repoRoot, entry), join(dir, entry), { recursive: true });
  symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"));
  for (const { file, from, to } of edits) {
    const path = join(dir, file);
    const before = readFileSync(path, "utf8");
    const after = before.replace(from, to);
    if (after === before) throw new Error(`edit did not apply to ${file}: ${String(from)}`);
    writeFileSync(path, after);
  }
  return dir;
}

async function runInWorkspace(dir: string, command: string, args: string[]) {
  const env = { ...process.env, PATH: `${join(dir, "node_modules", ".bin")}:${process.env.PATH ?? ""}` };
  try {
    const { stdout, stderr } = await run(command, args, { cwd: dir, env });
    return { ok: true, output: stdout + stderr };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    return { ok: false, output: (failed.stdout ?? "") + (failed.stderr ?? "") };
  }
}

const gate = (dir: string) => runInWorkspace(dir, "bash", ["scripts/contracts-check.sh"]);

const breakingEdits: { name: string; rule: string; edits: Edit[] }[] = [
  {
    name: "deleting a field without reserving it",
    rule: "FIELD_NO_DELETE",
    edits: [{ file: ordersProto, from: /\n  \/\/ Payment that settled the order[^\n]*\n  string payment_id = 9;/, to: "" }],
  },
  {
    name: "changing a field's type",
    rule: "FIELD_SAME_TYPE",
    edits: [{ file: ordersProto, from: "message OrderLine {\n  string sku = 1;\n  int32 quantity = 2;", to: "message OrderLine {\n  string sku = 1;\n  int64 quantity = 2;" }],
  },
  {
    name: "renumbering a field",
    rule: "FIELD_NO_DELETE",
    edits: [{ file: ordersProto, from: "  string payment_id = 9;", to: "  string payment_id = 10;" }],
  },
  {
    name: "renaming a field",
    rule: "FIELD_SAME_NAME",
    edits: [{ file: ordersProto, from: "  string payment_id = 9;", to: "  string settled_by_payment_id = 9;" }],
  },
  {
    name: "renaming an RPC",
    rule: "RPC_NO_DELETE",
    edits: [{ file: ordersProto, from: "rpc GetOrder(", to: "rpc FetchOrder(" }],
  },
  {
    name: "changing a file's package",
    rule: "FILE_SAME_PACKAGE",
    edits: [
      { file: paymentsEvents, from: "package shop.payments.v1;", to: "package shop.billing.v1;" },
    ],
  },
  {
    name: "removing an enum value",
    rule: "ENUM_VALUE_NO_DELETE",
    edits: [{ file: ordersProto, from: /\n  \/\/ Will not be fulfilled[^\n]*\n  ORDER_STATUS_CANCELLED = 3;/, to: "" }],
  },
  {
    name: "turning a singular field into a repeated one",
    rule: "FIELD_SAME_CARDINALITY",
    edits: [{ file: ordersProto, from: "  string payment_id = 9;", to: "  repeated string payment_id = 9;" }],
  },
  {
    name: "deleting an event message",
    rule: "MESSAGE_NO_DELETE",
    edits: [{ file: paymentsEvents, from: /\n\/\/ A captured charge[^\n]*\nmessage PaymentRefunded \{[\s\S]*?\n\}\n/, to: "" }],
  },
  {
    name: "making a server-streaming RPC unary",
    rule: "RPC_SAME_SERVER_STREAMING",
    edits: [{ file: ordersProto, from: "returns (stream WatchOrderResponse)", to: "returns (WatchOrderResponse)" }],
  },
  {
    name: "weakening a read method's idempotency level",
    rule: "RPC_SAME_IDEMPOTENCY_LEVEL",
    edits: [{ file: ordersProto, from: /(rpc GetOrder\(GetOrderRequest\) returns \(GetOrderResponse\) \{\n    option idempotency_level = )NO_SIDE_EFFECTS/, to: "$1IDEMPOTENT" }],
  },
];

describe("the contract gate", () => {
  it("passes on the committed contract", async () => {
    const result = await gate(scratchWorkspace([]));
    expect(result.output).toContain("contracts: ok");
    expect(result.ok).toBe(true);
  });

  for (const { name, rule, edits } of breakingEdits) {
    it(`rejects ${name} with ${rule}`, async () => {
      const result = await gate(scratchWorkspace(edits));
      expect(result.ok).toBe(false);
      expect(result.output).toContain(`error ${rule} :`);
    });
  }

  it("accepts a new field, RPC, message and enum value once gen/ is regenerated", async () => {
    const dir = scratchWorkspace([
      { file: ordersProto, from: "  string payment_id = 9;", to: "  string payment_id = 9;\n  string note = 10;" },
      {
        file: ordersProto,
        from: "service OrdersService {",
        to: "service OrdersService {\n  rpc ArchiveOrder(ArchiveOrderRequest) returns (ArchiveOrderResponse);",
      },
      {
        file: ordersProto,
        from: "message WatchOrderResponse {",
        to: "message ArchiveOrderRequest {\n  string order_id = 1;\n}\n\nmessage ArchiveOrderResponse {}\n\nmessage WatchOrderResponse {",
      },
      { file: ordersProto, from: "  CANCELLATION_REASON_DEADLINE_EXCEEDED = 4;", to: "  CANCELLATION_REASON_DEADLINE_EXCEEDED = 4;\n  CANCELLATION_REASON_FRAUD_SUSPECTED = 5;" },
    ]);
    const staleGate = await gate(dir);
    expect(staleGate.ok).toBe(false);
    expect(staleGate.output).toContain("gen/ is stale");

    const generated = await runInWorkspace(dir, "buf", ["generate"]);
    expect(generated.ok).toBe(true);
    const result = await gate(dir);
    expect(result.output).toContain("contracts: ok");
    expect(result.ok).toBe(true);
    expect(readFileSync(join(dir, "gen/shop/orders/v1/orders_pb.ts"), "utf8")).toContain("ArchiveOrderRequest");
  });

  it("lets a tightened validation rule through: buf breaking compares no custom options (ADR 0121)", async () => {
    const dir = scratchWorkspace([{ file: ordersProto, from: /(int32 quantity = 2 \[\(buf\.validate\.field\)\.int32 = \{\n    gt: 0\n    lte: )1000/, to: "$110" }]);
    const breaking = await runInWorkspace(dir, "buf", ["breaking", "proto", "--against", "contracts/baseline.binpb", "--error-format", "msvs"]);
    expect(breaking.output).toBe("");
    expect(breaking.ok).toBe(true);
  });

  it("fails when a file under gen/ is edited by hand", async () => {
    const dir = scratchWorkspace([{ file: "gen/shop/common/v1/money_pb.ts", from: "amountMinor: bigint;", to: "amountMinor: number;" }]);
    const result = await gate(dir);
    expect(result.ok).toBe(false);
    expect(result.output).toContain("gen/ is stale or was edited by hand");
  });

  it("fails when the printed protovalidate module drifts", async () => {
    const dir = scratchWorkspace([{ file: "proto-vendor/buf/validate/validate.proto", from: "optional bool required = 1;", to: "optional bool required = 1;\n  optional bool extra = 2;" }]);
    const result = await gate(dir);
    expect(result.ok).toBe(false);
    expect(result.output).toContain("validate.proto is stale");
  });

  it("fails on a formatting diff and on a lint finding", async () => {
    const unformatted = await gate(scratchWorkspace([{ file: ordersProto, from: "  string payment_id = 9;", to: "  string   payment_id = 9;" }]));
    expect(unformatted.ok).toBe(false);
    expect(unformatted.output).toContain("payment_id");

    const badName = await gate(scratchWorkspace([{ file: ordersProto, from: "message WatchOrderResponse {", to: "message watch_extra {}\n\nmessage WatchOrderResponse {" }]));
    expect(badName.ok).toBe(false);
    expect(badName.output).toContain("error MESSAGE_PASCAL_CASE :");
  });
});
