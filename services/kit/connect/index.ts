// The Connect transport for NestJS and its framework-free core.

// Errors handlers throw on purpose, and the one mapping to what clients receive.
export {
  AbortedError,
  AlreadyExistsError,
  DomainError,
  FailedPreconditionError,
  InvalidArgumentError,
  isDomainError,
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
  UnavailableError,
  type DomainCode,
  type DomainErrorOptions,
  type ErrorDetail,
} from "./errors/domain-error.js";
export { toConnectError } from "./errors/to-connect-error.js";
