import { create, fromJson, type JsonValue, type MessageInitShape, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ClientNats } from "@nestjs/microservices";
import { firstValueFrom, timeout, TimeoutError } from "rxjs";
import { QuoteItemsRequestSchema, QuoteItemsResponseSchema, type QuoteItemsResponse } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { isStockLookupFailure, STOCK_LOOKUP_SUBJECT } from "./stock-lookup.protocol.js";

export interface StockLookupClientOptions {
  /** NATS servers, as for the services (NATS_URL). */
  servers: string[];
  /** How long to wait for a replica's answer. Default 2000 ms (the gRPC inventory client's deadline). */
  timeoutMs?: number;
}

export interface StockLookupClient {
  /**
   * QuoteItems answered by any inventory replica. Fails with Unavailable when no replica is
   * subscribed (NATS "no responders", known at once) or NATS cannot be reached, with
   * DeadlineExceeded when no answer comes within the timeout, and with the replica's code
   * (InvalidArgument, ...) when it refused the request.
   */
  quoteItems(request: MessageInitShape<typeof QuoteItemsRequestSchema>): Promise<QuoteItemsResponse>;
  close(): Promise<void>;
}

export function createStockLookupClient(options: StockLookupClientOptions): StockLookupClient {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const client = new ClientNats({ servers: options.servers, name: "stock-lookup-client", maxReconnectAttempts: -1 });
  return {
    async quoteItems(request) {
      const payload = toJson(QuoteItemsRequestSchema, create(QuoteItemsRequestSchema, request));
      let reply: JsonValue;
      try {
        reply = await firstValueFrom(client.send<JsonValue>(STOCK_LOOKUP_SUBJECT, payload).pipe(timeout({ first: timeoutMs })));
      } catch (error) {
        throw lookupError(error, timeoutMs);
      }
      try {
        return fromJson(QuoteItemsResponseSchema, reply);
      } catch (error) {
        throw new ConnectError(`the reply on ${STOCK_LOOKUP_SUBJECT} is not a QuoteItemsResponse: ${error instanceof Error ? error.message : String(error)}`, Code.Internal, undefined, undefined, error);
      }
    },
    close: () => client.close(),
  };
}

function lookupError(error: unknown, timeoutMs: number): ConnectError {
  if (isStockLookupFailure(error)) return new ConnectError(error.message, error.code);
  if (error instanceof TimeoutError) {
    return new ConnectError(`no inventory replica answered ${STOCK_LOOKUP_SUBJECT} within ${timeoutMs} ms`, Code.DeadlineExceeded, undefined, undefined, error);
  }
  // Nest reports NATS's "no responders" status (an empty reply) as EmptyResponseException.
  if (error instanceof Error && error.constructor.name === "EmptyResponseException") {
    return new ConnectError(
      `no inventory replica is subscribed to ${STOCK_LOOKUP_SUBJECT} (NATS: no responders); start inventory or check that it uses the same NATS`,
      Code.Unavailable,
      undefined,
      undefined,
      error,
    );
  }
  return new ConnectError(`stock lookup over NATS failed: ${error instanceof Error ? error.message : String(error)}`, Code.Unavailable, undefined, undefined, error);
}
