import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { DomainError, FailedPreconditionError, NotFoundError, toConnectError } from "@protomesh/server";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { DataError } from "@protomesh/data";

describe("toConnectError", () => {
  it.each([
    ["a NotFoundError", new NotFoundError("no order 1"), Code.NotFound, "no order 1"],
    ["a FailedPreconditionError", new FailedPreconditionError("order is confirmed"), Code.FailedPrecondition, "order is confirmed"],
    ["a DomainError with a code", new DomainError(Code.AlreadyExists, "exists"), Code.AlreadyExists, "exists"],
    ["a plain Error", new Error("db password is hunter2"), Code.Internal, "internal error"],
    ["a thrown object", { oops: true }, Code.Internal, "internal error"],
    ["a thrown string", "boom", Code.Internal, "internal error"],
    ["a TimeoutError", new DOMException("timed out", "TimeoutError"), Code.DeadlineExceeded, "the operation timed out"],
  ])("maps %s", (_name, thrown, code, message) => {
    const mapped = toConnectError(thrown);
    expect(mapped.code).toBe(code);
    expect(mapped.rawMessage).toBe(message);
  });

  it("passes a ConnectError through with its details", () => {
    const original = new ConnectError("bad", Code.InvalidArgument, undefined, [
      { desc: ViolationsSchema, value: { violations: [{ message: "too short" }] } },
    ]);
    expect(toConnectError(original)).toBe(original);
  });

  it("recognizes a DomainError from another copy of the module by its marker", () => {
    const foreign = Object.assign(new Error("gone"), { isDomainError: true, code: Code.NotFound, details: [] });
    expect(toConnectError(foreign).code).toBe(Code.NotFound);
  });

  it("keeps the original as cause, not in the message", () => {
    const original = new Error("secret");
    const mapped = toConnectError(original);
    expect(mapped.cause).toBe(original);
    expect(mapped.message).not.toContain("secret");
  });
});

describe("database errors", () => {
  it.each([
    ["unique_violation", Code.AlreadyExists],
    ["conflict", Code.Aborted],
    ["unavailable", Code.Unavailable],
    ["timeout", Code.DeadlineExceeded],
    ["unknown", Code.Internal],
  ] as const)("maps a %s DataError to %s, keeping the driver error as cause", (kind, code) => {
    const cause = new Error("duplicate key value violates unique constraint \"items_pkey\"");
    const mapped = toConnectError(new DataError(kind, "driver said no", { cause }));
    expect(mapped.code).toBe(code);
    expect(mapped.rawMessage).not.toContain("items_pkey");
    expect((mapped.cause as DataError).cause).toBe(cause);
  });
});

describe("driver errors that were not wrapped", () => {
  it("maps a query error whose cause carries a SQLSTATE, or a lost connection, like the DataError it is", () => {
    const lost = Object.assign(new Error("Failed query: select ..."), { cause: Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" }) });
    expect(toConnectError(lost).code).toBe(Code.Unavailable);
    expect(toConnectError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" })).code).toBe(Code.Unavailable);
    expect(toConnectError(new Error("not a database problem")).code).toBe(Code.Internal);
  });
});
