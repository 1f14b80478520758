import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { ExecutionContext } from "@nestjs/common";
import { peerIdentity, type PeerIdentity } from "../tls/peer-identity.js";

/** What a guard or interceptor knows about the call it is looking at. */
export interface ConnectCall {
  readonly service: DescService;
  readonly method: DescMethod;
  /** "/acme.items.v1.ItemService/GetItem". */
  readonly procedure: string;
  /** "grpc", "grpc-web" or "connect". */
  readonly protocol: string;
  readonly requestHeader: Headers;
  /** The verified client certificate's identity; undefined without mTLS. */
  readonly peer: PeerIdentity | undefined;
  /** When the caller stops waiting; undefined when it sent no timeout. */
  readonly deadline: Date | undefined;
  /** Aborts at the deadline, when the client goes away, or at forced shutdown. */
  readonly signal: AbortSignal;
  /** The full Connect context, as the handler receives it. */
  readonly context: HandlerContext;
}

/**
 * The Connect call behind a Nest execution context (`context.getType() === "rpc"` and the
 * handler belongs to a ConnectService), or undefined for any other transport's call.
 */
export function connectCall(context: ExecutionContext): ConnectCall | undefined {
  if (context.getType() !== "rpc") {
    return undefined;
  }
  const ctx = context.switchToRpc().getContext<unknown>();
  if (!isHandlerContext(ctx)) {
    return undefined;
  }
  const remaining = ctx.timeoutMs();
  return {
    service: ctx.service,
    method: ctx.method,
    procedure: `/${ctx.service.typeName}/${ctx.method.name}`,
    protocol: ctx.protocolName,
    requestHeader: ctx.requestHeader,
    peer: peerIdentity(ctx),
    deadline: remaining === undefined ? undefined : new Date(Date.now() + remaining),
    signal: ctx.signal,
    context: ctx,
  };
}

function isHandlerContext(value: unknown): value is HandlerContext {
  const ctx = value as Partial<HandlerContext> | undefined;
  return typeof ctx?.timeoutMs === "function" && ctx.method !== undefined && ctx.values !== undefined;
}
