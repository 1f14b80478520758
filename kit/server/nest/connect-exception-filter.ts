import { Catch, type ExceptionFilter } from "@nestjs/common";
import { Code, ConnectError } from "@connectrpc/connect";
import { throwError, type Observable } from "rxjs";

// Nest's guard pipeline throws RpcException with this message when a guard returns false.
const guardRejection = "Forbidden resource";

/**
 * Last filter of every Connect controller: hands errors to the transport instead of Nest's
 * default filter, which would flatten them to `{status: "error"}` (clients saw Unknown
 * "[object Object]"). Translates what Nest itself throws; the transport maps the rest.
 */
@Catch()
export class ConnectExceptionFilter implements ExceptionFilter {
  catch(exception: unknown): Observable<never> {
    return throwError(() => fromNestException(exception));
  }
}

/** Nest's own exceptions, recognized by shape rather than class, as Connect errors. */
export function fromNestException(exception: unknown): unknown {
  if (typeof exception !== "object" || exception === null) {
    return exception;
  }
  const candidate = exception as { getError?: unknown; getStatus?: unknown; message?: unknown };
  if (typeof candidate.getError === "function") {
    const error: unknown = (candidate.getError as () => unknown).call(exception);
    if (error === guardRejection) {
      return new ConnectError("permission denied", Code.PermissionDenied, undefined, undefined, exception);
    }
    if (typeof error === "object" && error !== null) {
      const { code, message } = error as { code?: unknown; message?: unknown };
      if (typeof code === "number" && code in Code && code !== 0) {
        return new ConnectError(typeof message === "string" ? message : "", code, undefined, undefined, exception);
      }
    }
    if (typeof error === "string") {
      return new ConnectError(error, Code.Unknown, undefined, undefined, exception);
    }
    return exception;
  }
  if (typeof candidate.getStatus === "function") {
    const status = (candidate.getStatus as () => unknown).call(exception);
    const message = typeof candidate.message === "string" ? candidate.message : "";
    const code = typeof status === "number" ? codeOfHttpStatus(status) : undefined;
    return code === undefined ? exception : new ConnectError(message, code, undefined, undefined, exception);
  }
  return exception;
}

// Nest's HTTP exceptions (UnauthorizedException from a guard, BadRequestException from a
// ValidationPipe …) by the usual HTTP -> gRPC correspondence; 5xx stays Internal.
function codeOfHttpStatus(status: number): Code | undefined {
  switch (status) {
    case 400:
    case 422:
      return Code.InvalidArgument;
    case 401:
      return Code.Unauthenticated;
    case 403:
      return Code.PermissionDenied;
    case 404:
      return Code.NotFound;
    case 409:
      return Code.AlreadyExists;
    case 412:
      return Code.FailedPrecondition;
    case 429:
      return Code.ResourceExhausted;
    case 501:
      return Code.Unimplemented;
    case 503:
      return Code.Unavailable;
    case 504:
      return Code.DeadlineExceeded;
    default:
      return status >= 400 && status < 500 ? Code.InvalidArgument : undefined;
  }
}
