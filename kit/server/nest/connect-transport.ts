import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { Logger } from "@nestjs/common";
import { Server, type CustomTransportStrategy, type MessageHandler } from "@nestjs/microservices";
import { isObservable, lastValueFrom } from "rxjs";
import type { HealthRegistry } from "../health/health-registry.js";
import { createConnectServer, type ConnectServer } from "../server/connect-server.js";
import { resolveConnectServerOptions, type ConnectServerOptions } from "../server/connect-server-options.js";
import type { ServiceBinding } from "../server/service-binding.js";
import { connectMethodExtra } from "./connect-service.decorator.js";
import { CONNECT_TRANSPORT } from "./connect-transport-id.js";
import { toAsyncIterable } from "./observable-stream.js";

/** ConnectServerOptions; the defaults are those of createConnectServer. */
export type ConnectTransportOptions = ConnectServerOptions;

/**
 * A Nest transport strategy serving the app's ConnectService controllers over gRPC, gRPC-Web
 * and Connect on one HTTP/2 port. `app.listen()` resolves once the port is bound;
 * `app.close()` shuts down gracefully within shutdownTimeoutMs.
 *
 * ```ts
 * const transport = new ConnectTransport({ port: 50051 });
 * const app = await NestFactory.createMicroservice(AppModule, { strategy: transport });
 * transport.health.addProbe("database", () => db.ping());
 * await app.listen();
 * ```
 */
export class ConnectTransport extends Server implements CustomTransportStrategy {
  override readonly transportId = CONNECT_TRANSPORT;
  /** Readiness behind grpc.health.v1: add the app's probes here. */
  readonly health: HealthRegistry;
  private readonly options: ConnectServerOptions;
  private readonly methods = new Map<DescService, Map<string, { method: DescMethod; handler: MessageHandler }>>();
  private server: ConnectServer | undefined;

  constructor(options: ConnectTransportOptions = {}) {
    super();
    const nestLogger = new Logger("ConnectTransport");
    const resolved = resolveConnectServerOptions({
      onUnexpectedError: (error, procedure) => {
        const cause = error.cause instanceof Error ? error.cause : error;
        nestLogger.error(`${procedure} failed: ${cause.message}`, cause.stack);
      },
      onTlsReloadError: (error) => nestLogger.warn(`reloading TLS files failed: ${String(error)}`),
      ...options,
    });
    this.health = resolved.health;
    this.options = resolved;
  }

  // Only handlers declared by @ConnectService carry a method descriptor; anything else that
  // reaches every transport (a pattern declared without one) is not served here.
  override addHandler(_pattern: unknown, callback: MessageHandler, isEventHandler = false, extras: Record<string, unknown> = {}): void {
    const method = extras[connectMethodExtra] as DescMethod | undefined;
    if (isEventHandler || method === undefined) {
      return;
    }
    const byMethod = this.methods.get(method.parent) ?? new Map<string, { method: DescMethod; handler: MessageHandler }>();
    byMethod.set(method.localName, { method, handler: callback });
    this.methods.set(method.parent, byMethod);
  }

  listen(callback: (error?: unknown, info?: unknown) => void): void {
    const bindings: ServiceBinding[] = [...this.methods].map(([service, byMethod]) => ({
      service,
      impl: Object.fromEntries([...byMethod].map(([name, { method, handler }]) => [name, toMethodImpl(method, handler)])),
    }));
    try {
      this.server = createConnectServer(bindings, this.options);
    } catch (error) {
      callback(error);
      return;
    }
    this.server.listen().then(
      (address) => callback(undefined, address),
      (error: unknown) => callback(error),
    );
  }

  async close(): Promise<void> {
    await this.server?.close();
  }

  /** The bound address once listening (port 0 becomes a real port). */
  address(): { address: string; port: number } | undefined {
    const address = this.server?.httpServer.address();
    return typeof address === "object" && address !== null ? address : undefined;
  }

  on(): never {
    throw new Error("ConnectTransport emits no events; use health probes and interceptors instead");
  }

  unwrap<T>(): T {
    if (this.server === undefined) {
      throw new Error("ConnectTransport is not listening yet");
    }
    return this.server.httpServer as T;
  }
}

type AnyImpl = ServiceImpl<DescService>[string];

// Nest's pipeline returns the handler's value, or an Observable when interceptors or filters
// took part; both become what Connect expects for the method's kind.
function toMethodImpl(method: DescMethod, handler: MessageHandler): AnyImpl {
  switch (method.methodKind) {
    case "unary":
    case "client_streaming":
      // One promise per call instead of an async wrapper's own plus its await.
      return ((request: unknown, context: HandlerContext) => Promise.resolve(handler(request, context)).then(lastValueIfObservable)) as AnyImpl;
    case "server_streaming":
    case "bidi_streaming":
      return async function* (request: unknown, context: HandlerContext) {
        yield* toAsyncIterable(await handler(request, context));
      } as AnyImpl;
  }
}

function lastValueIfObservable(result: unknown): unknown {
  return isObservable(result) ? lastValueFrom(result) : result;
}
