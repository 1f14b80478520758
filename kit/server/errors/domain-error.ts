import { Code } from "@connectrpc/connect";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";

/** Codes a service may choose on purpose; Internal and Unknown are reserved for accidents. */
export type DomainCode =
  | Code.InvalidArgument
  | Code.NotFound
  | Code.AlreadyExists
  | Code.PermissionDenied
  | Code.Unauthenticated
  | Code.FailedPrecondition
  | Code.Aborted
  | Code.OutOfRange
  | Code.ResourceExhausted
  | Code.Unavailable
  | Code.Unimplemented;

/** A rich error detail: a message schema and its value, sent as `google.protobuf.Any`. */
export interface ErrorDetail<Desc extends DescMessage = DescMessage> {
  desc: Desc;
  value: MessageInitShape<Desc>;
}

export interface DomainErrorOptions {
  cause?: unknown;
  /** Sent to the client (gRPC: `grpc-status-details-bin`); nothing else of the error is. */
  details?: readonly ErrorDetail[];
}

/**
 * An expected failure a handler throws on purpose. The transport sends its code and message to
 * the client; the cause stays on the server. Recognized by its marker property, not by
 * `instanceof`, so two copies of this module still agree.
 */
export class DomainError extends Error {
  readonly isDomainError = true;
  readonly details: readonly ErrorDetail[];

  constructor(
    readonly code: DomainCode,
    message: string,
    options: DomainErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DomainError";
    this.details = options.details ?? [];
  }
}

/** True for a {@link DomainError} from any copy of this module. */
export function isDomainError(error: unknown): error is DomainError {
  return typeof error === "object" && error !== null && (error as Partial<DomainError>).isDomainError === true;
}

/** The entity asked for does not exist. */
export class NotFoundError extends DomainError {
  constructor(message: string, options?: DomainErrorOptions) {
    super(Code.NotFound, message, options);
    this.name = "NotFoundError";
  }
}

/** The entity to create exists already. */
export class AlreadyExistsError extends DomainError {
  constructor(message: string, options?: DomainErrorOptions) {
    super(Code.AlreadyExists, message, options);
    this.name = "AlreadyExistsError";
  }
}

/** The system is not in the state the operation needs (for example cancelling a confirmed order). */
export class FailedPreconditionError extends DomainError {
  constructor(message: string, options?: DomainErrorOptions) {
    super(Code.FailedPrecondition, message, options);
    this.name = "FailedPreconditionError";
  }
}

/** The request is malformed in a way the protovalidate rules cannot express. */
export class InvalidArgumentError extends DomainError {
  constructor(message: string, options?: DomainErrorOptions) {
    super(Code.InvalidArgument, message, options);
    this.name = "InvalidArgumentError";
  }
}

/** The caller is known but not allowed to do this. */
export class PermissionDeniedError extends DomainError {
  constructor(message: string, options?: DomainErrorOptions) {
    super(Code.PermissionDenied, message, options);
    this.name = "PermissionDeniedError";
  }
}

/** The caller could not be identified. */
export class UnauthenticatedError extends DomainError {
  constructor(message: string, options?: DomainErrorOptions) {
    super(Code.Unauthenticated, message, options);
    this.name = "UnauthenticatedError";
  }
}

/** A concurrent change won; the caller may retry the whole read-modify-write. */
export class AbortedError extends DomainError {
  constructor(message: string, options?: DomainErrorOptions) {
    super(Code.Aborted, message, options);
    this.name = "AbortedError";
  }
}

/** A dependency is down; the call may succeed when retried. */
export class UnavailableError extends DomainError {
  constructor(message: string, options?: DomainErrorOptions) {
    super(Code.Unavailable, message, options);
    this.name = "UnavailableError";
  }
}
