import { type ArgumentsHost, Catch, type RpcExceptionFilter } from "@nestjs/common";
import { type Observable, throwError } from "rxjs";

/**
 * Passes a JetStream handler's error through unchanged. Nest's default RPC filter replaces any
 * error that is not an RpcException with "Internal server error"; with this filter the dead
 * letter records the real reason. Bind it with `@UseFilters(new EventErrorFilter())` on event
 * controllers (or globally on the microservice).
 */
@Catch()
export class EventErrorFilter implements RpcExceptionFilter {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    return throwError(() => exception);
  }
}
