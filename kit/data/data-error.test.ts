import { describe, expect, it } from "vitest";
import { DataError, isDataError, toDataError } from "./data-error.js";

const pgError = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(`pg ${code}`), { code, ...extra });

describe("toDataError", () => {
  it.each([
    ["23505", "unique_violation", false],
    ["23503", "constraint_violation", false],
    ["23514", "constraint_violation", false],
    ["22P02", "invalid_input", false],
    ["40001", "conflict", true],
    ["40P01", "conflict", true],
    ["55P03", "timeout", false],
    ["57014", "timeout", false],
    ["57P01", "unavailable", true],
    ["08006", "unavailable", true],
    ["42P01", "unknown", false],
  ])("maps SQLSTATE %s to %s", (sqlState, code, retryable) => {
    const mapped = toDataError(pgError(sqlState));
    expect(mapped).toMatchObject({ code, sqlState, retryable });
  });

  it("finds the SQLSTATE under drizzle's query wrapper and keeps the whole chain as cause", () => {
    const driver = pgError("23505", { constraint: "items_pkey" });
    const wrapped = Object.assign(new Error("Failed query: insert ..."), { cause: driver });
    const mapped = toDataError(wrapped);
    expect(mapped).toMatchObject({ code: "unique_violation", constraint: "items_pkey" });
    expect(mapped.cause).toBe(wrapped);
  });

  it("treats socket errors and dropped connections as unavailable", () => {
    expect(toDataError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })).code).toBe("unavailable");
    expect(toDataError(Object.assign(new Error("connect EMFILE 127.0.0.1:5432 - Local (undefined:undefined)"), { code: "EMFILE" })).code).toBe("unavailable");
    expect(toDataError(new Error("Connection terminated unexpectedly")).code).toBe("unavailable");
  });

  it("returns a DataError unchanged and recognises it by marker", () => {
    const err = new DataError("conflict", "retry me");
    expect(toDataError(err)).toBe(err);
    expect(isDataError({ dataError: true })).toBe(true);
    expect(isDataError(new Error("x"))).toBe(false);
  });
});
