import { describe, expect, it } from "vitest";
import { createSocketsPerUser } from "./sockets-per-user.js";

describe("sockets per user", () => {
  it("admits up to the limit per user, and one more for each socket given back, once", () => {
    const sockets = createSocketsPerUser(2);
    const first = sockets.admit("alice");
    expect(sockets.admit("alice")).toBeDefined();
    expect(sockets.admit("alice")).toBeUndefined();
    expect(sockets.admit("bob")).toBeDefined();

    first?.();
    first?.();
    expect(sockets.admit("alice")).toBeDefined();
    expect(sockets.admit("alice")).toBeUndefined();
  });

  it("refuses a limit that is not a positive whole number", () => {
    expect(() => createSocketsPerUser(0)).toThrow("sockets per user must be a positive integer, got 0");
  });
});
