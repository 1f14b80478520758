// Who a WebSocket client is: a bearer JWT (HS256, signed with a secret shared with whoever
// issues it) whose `sub` is the user id. jose does the checking (signature, algorithm, expiry).
import { errors, jwtVerify, SignJWT } from "jose";

/** Shortest secret accepted: HS256 wants a key at least as long as its 256-bit hash. */
export const MIN_SECRET_BYTES = 32;

/** A token that does not prove a user; the message says what to fix, never why the signature failed. */
export class AccessTokenError extends Error {
  override readonly name = "AccessTokenError";
  readonly accessTokenError = true;
}

export function isAccessTokenError(error: unknown): error is AccessTokenError {
  return typeof error === "object" && error !== null && (error as { accessTokenError?: unknown }).accessTokenError === true;
}

/** Resolves to the user id a token was issued for; rejects with an `AccessTokenError`. */
export type AccessTokenVerifier = (token: string) => Promise<string>;

function keyOf(secret: string): Uint8Array {
  const key = new TextEncoder().encode(secret);
  if (key.length < MIN_SECRET_BYTES) throw new RangeError(`the token secret must be at least ${MIN_SECRET_BYTES} bytes`);
  return key;
}

export function createAccessTokenVerifier(secret: string): AccessTokenVerifier {
  const key = keyOf(secret);
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, key, { algorithms: ["HS256"], requiredClaims: ["sub", "exp"] });
      // jose checks the types of exp, nbf and iat, not of sub: a number or a list would pass.
      const sub: unknown = payload.sub;
      if (typeof sub !== "string") throw new AccessTokenError("the token names no user (its sub claim must be the user id as a string)");
      if (sub === "") throw new AccessTokenError("the token names no user (no sub claim)");
      return sub;
    } catch (error) {
      if (isAccessTokenError(error)) throw error;
      if (error instanceof errors.JWTExpired) throw new AccessTokenError("the token has expired; get a new one", { cause: error });
      if (error instanceof errors.JWTClaimValidationFailed) {
        // Only sub and exp are required, so only they can be missing.
        const problem =
          error.reason === "missing"
            ? error.claim === "sub"
              ? "names no user (no sub claim)"
              : "never expires (no exp claim); issue tokens with an expiry"
            : error.claim === "nbf" && error.reason === "check_failed"
              ? "is not valid yet (its nbf claim is in the future)"
              : `has an invalid ${error.claim} claim (${error.message})`;
        throw new AccessTokenError(`the token ${problem}`, { cause: error });
      }
      throw new AccessTokenError("the token is not a JWT signed for this service", { cause: error });
    }
  };
}

/** Issues a token for `userId`, valid for `ttlSeconds`: what a sign-in endpoint holding the same secret hands the browser. */
export async function signAccessToken(secret: string, userId: string, ttlSeconds: number): Promise<string> {
  return new SignJWT().setProtectedHeader({ alg: "HS256" }).setSubject(userId).setIssuedAt().setExpirationTime(`${ttlSeconds}s`).sign(keyOf(secret));
}
