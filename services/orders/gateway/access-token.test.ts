import { type JWTPayload, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { isConfigError } from "../../config/index.js";
import { loadOrdersConfig } from "../config.js";
import { createAccessTokenVerifier, signAccessToken } from "./access-token.js";

const SECRET = "a-secret-of-at-least-thirty-two-bytes!";
const key = new TextEncoder().encode(SECRET);
const problemsOf = (load: () => unknown): string[] => {
  try {
    load();
  } catch (error) {
    if (isConfigError(error)) return error.problems;
    throw error;
  }
  return [];
};

describe("access tokens", () => {
  const verify = createAccessTokenVerifier(SECRET);

  it("yields the user a token was issued for", async () => {
    await expect(verify(await signAccessToken(SECRET, "alice", 60))).resolves.toBe("alice");
  });

  it("refuses a token signed with another secret, expired, without a user or without an expiry", async () => {
    await expect(verify(await signAccessToken(`${SECRET}-other`, "alice", 60))).rejects.toThrow("the token is not a JWT signed for this service");
    await expect(verify(await new SignJWT().setProtectedHeader({ alg: "HS256" }).setSubject("alice").setExpirationTime(Math.floor(Date.now() / 1000) - 5).sign(key))).rejects.toThrow(
      "the token has expired; get a new one",
    );
    await expect(verify(await new SignJWT().setProtectedHeader({ alg: "HS256" }).setExpirationTime("1m").sign(key))).rejects.toThrow("the token names no user (no sub claim)");
    await expect(verify(await new SignJWT().setProtectedHeader({ alg: "HS256" }).setSubject("alice").sign(key))).rejects.toThrow("the token never expires (no exp claim)");
    await expect(verify("not-a-jwt")).rejects.toThrow("the token is not a JWT signed for this service");
  });

  it.each([
    ["a number", 42, "the token names no user (its sub claim must be the user id as a string)"],
    ["a list", ["wsvictim"], "the token names no user (its sub claim must be the user id as a string)"],
    ["an object", { id: "alice" }, "the token names no user (its sub claim must be the user id as a string)"],
    ["null", null, "the token names no user (its sub claim must be the user id as a string)"],
    ["empty", "", "the token names no user (no sub claim)"],
  ])("refuses a signed token whose sub is %s", async (_, sub, message) => {
    const token = await new SignJWT({ sub } as unknown as JWTPayload).setProtectedHeader({ alg: "HS256" }).setExpirationTime("1m").sign(key);
    await expect(verify(token)).rejects.toThrow(message);
  });

  it("refuses a signed token whose exp, nbf or iat is not a number, or that is not valid yet", async () => {
    const signed = (payload: Record<string, unknown>) => new SignJWT({ sub: "alice", ...payload }).setProtectedHeader({ alg: "HS256" }).sign(key);
    const inAMinute = Math.floor(Date.now() / 1000) + 60;
    await expect(verify(await signed({ exp: String(inAMinute) }))).rejects.toThrow('the token has an invalid exp claim ("exp" claim must be a number)');
    await expect(verify(await signed({ exp: inAMinute, nbf: "0" }))).rejects.toThrow("the token has an invalid nbf claim");
    await expect(verify(await signed({ exp: inAMinute, iat: [1] }))).rejects.toThrow("the token has an invalid iat claim");
    await expect(verify(await signed({ exp: inAMinute + 60, nbf: inAMinute }))).rejects.toThrow("the token is not valid yet (its nbf claim is in the future)");
  });

  it("refuses the unsigned 'none' algorithm", async () => {
    const header = Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url");
    const payload = Buffer.from(JSON.stringify({ sub: "alice", exp: Math.floor(Date.now() / 1000) + 60 })).toString("base64url");
    await expect(verify(`${header}.${payload}.`)).rejects.toThrow("the token is not a JWT signed for this service");
  });
});

describe("gateway configuration", () => {
  it("is off without WS_PORT and on with WS_PORT and a secret", () => {
    expect(loadOrdersConfig({}).statusGateway).toBeUndefined();
    expect(loadOrdersConfig({ WS_PORT: "8081", WS_TOKEN_SECRET: SECRET, REDIS_URL: "redis://127.0.0.1:6379" }).statusGateway).toEqual({
      host: "127.0.0.1",
      port: 8081,
      tokenSecret: SECRET,
      maxSocketsPerUser: 10,
      redisUrl: "redis://127.0.0.1:6379",
      channelPrefix: "orders-status",
    });
  });

  it("names the variable to fix, without printing the secret", () => {
    expect(problemsOf(() => loadOrdersConfig({ WS_PORT: "8081" }))).toEqual(["WS_TOKEN_SECRET: is required when WS_PORT is set (the gateway accepts only signed tokens)"]);
    expect(problemsOf(() => loadOrdersConfig({ WS_PORT: "8081", WS_TOKEN_SECRET: "short-and-secret" }))).toEqual(["WS_TOKEN_SECRET: must be at least 32 bytes (HS256)"]);
    expect(problemsOf(() => loadOrdersConfig({ WS_PORT: "http", WS_TOKEN_SECRET: SECRET }))).toEqual(['WS_PORT: must be a port number (got "http")']);
    expect(problemsOf(() => loadOrdersConfig({ WS_PORT: "8081", WS_TOKEN_SECRET: SECRET, WS_MAX_SOCKETS_PER_USER: "0" }))).toEqual(['WS_MAX_SOCKETS_PER_USER: must be at least 1 (got "0")']);
  });
});
