import { fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { createValidator } from "@bufbuild/protovalidate";
import { Controller, Inject } from "@nestjs/common";
import { MessagePattern, Payload, RpcException, Transport } from "@nestjs/microservices";
import { InvalidArgumentError, toConnectError } from "@protomesh/server";
import { QuoteItemsRequestSchema, QuoteItemsResponseSchema } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { STOCK_STORE } from "../inventory.tokens.js";
import type { StockStore } from "../stock.js";
import { STOCK_LOOKUP_SUBJECT, type StockLookupFailure } from "./stock-lookup.protocol.js";

/**
 * Answers stock lookups from NATS with the same store (and cache) as the QuoteItems RPC, and the
 * same rules: a request that breaks the proto's validation rules gets InvalidArgument.
 */
@Controller()
export class StockLookupResponder {
  private readonly validator = createValidator();

  constructor(@Inject(STOCK_STORE) private readonly stock: StockStore) {}

  @MessagePattern(STOCK_LOOKUP_SUBJECT, Transport.NATS)
  async quoteItems(@Payload() payload: JsonValue): Promise<JsonValue> {
    try {
      const request = this.decode(payload);
      return toJson(QuoteItemsResponseSchema, await this.stock.quote(request.items, request.currencyCode));
    } catch (error) {
      const { code, rawMessage } = toConnectError(error);
      throw new RpcException({ code, message: rawMessage } satisfies StockLookupFailure);
    }
  }

  private decode(payload: JsonValue) {
    let request;
    try {
      request = fromJson(QuoteItemsRequestSchema, payload);
    } catch (error) {
      throw new InvalidArgumentError(`not a shop.inventory.v1.QuoteItemsRequest in protobuf JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
    const result = this.validator.validate(QuoteItemsRequestSchema, request);
    if (result.kind !== "valid") throw new InvalidArgumentError(result.error.message);
    return request;
  }
}
