import type { ServiceImpl } from "@connectrpc/connect";
import { Inject } from "@nestjs/common";
import { ConnectService } from "@protomesh/server/nest";
import {
  InventoryService,
  type AdjustStockRequest,
  type GetStockRequest,
  type QuoteItemsRequest,
  type SetStockRequest,
} from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { STOCK_STORE } from "./inventory.tokens.js";
import type { StockStore } from "./stock.js";

@ConnectService(InventoryService)
export class InventoryController implements ServiceImpl<typeof InventoryService> {
  constructor(@Inject(STOCK_STORE) private readonly stock: StockStore) {}

  async getStock(request: GetStockRequest) {
    return { item: await this.stock.getStock(request.sku) };
  }

  async quoteItems(request: QuoteItemsRequest) {
    return this.stock.quote(request.items, request.currencyCode);
  }

  async setStock(request: SetStockRequest) {
    return { item: await this.stock.setStock(request) };
  }

  async adjustStock(request: AdjustStockRequest) {
    return { item: await this.stock.adjustStock(request) };
  }
}
