import { Code, ConnectError } from "@connectrpc/connect";

/** Why the balancer sent a call nowhere. */
export type NotSentReason =
  /** No endpoint of the service was admitted or could be tried (all down, ejected or not serving). */
  | "no-endpoint"
  /** The picked endpoint's connection could not be opened (refused, TLS handshake failed, reset). */
  | "connection-failed"
  /** The client was closed (`closeClient`, or its Nest module at application shutdown). */
  | "client-closed";

/**
 * The error (Unavailable) of a call that no server received. It says nothing about the method
 * (the endpoints' own state already records why they are out), so the method circuit counts it
 * as neither success nor failure; `isCallNotSentError` tells it apart.
 */
export class CallNotSentError extends ConnectError {
  readonly callNotSent = true;
  constructor(
    message: string,
    readonly reason: NotSentReason,
    cause?: unknown,
  ) {
    super(message, Code.Unavailable, undefined, undefined, cause);
  }
}

export function isCallNotSentError(error: unknown): error is CallNotSentError {
  return typeof error === "object" && error !== null && (error as { callNotSent?: unknown }).callNotSent === true;
}
