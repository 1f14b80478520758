// Stock reads and admin writes behind the InventoryService RPCs.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { eq, inArray, sql } from "drizzle-orm";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "protomesh/kit/connect";
import { runTransaction, type Db } from "protomesh/kit/data";
import { MoneySchema } from "protomesh/gen/shop/common/v1/money_pb";
import {
  QuoteItemsResponseSchema,
  StockItemSchema,
  type QuoteItemsResponse,
  type QuoteLineInput,
  type SetStockRequest,
  type AdjustStockRequest,
  type StockItem,
} from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { mergeLines } from "./domain/reservation.js";
import { stockItems, stockLedger } from "./schema.js";

type StockRow = typeof stockItems.$inferSelect;

export function toStockItem(row: StockRow): StockItem {
  return create(StockItemSchema, {
    sku: row.sku,
    name: row.name,
    available: row.available,
    reserved: row.reserved,
    sold: row.sold,
    unitPrice: { currencyCode: row.currencyCode, amountMinor: row.unitPriceMinor },
    updatedAt: timestampFromDate(row.updatedAt),
  });
}

export function createStockStore(db: Db) {
  async function findStock(sku: string): Promise<StockRow | undefined> {
    const [row] = await db.select().from(stockItems).where(eq(stockItems.sku, sku));
    return row;
  }

  return {
    async getStock(sku: string): Promise<StockItem> {
      const row = await findStock(sku);
      if (row === undefined) throw new NotFoundError(`no stock item with SKU ${sku}`);
      return toStockItem(row);
    },

    /** Prices a basket; a SKU listed twice is checked against its total. Reserves nothing. */
    async quote(items: readonly QuoteLineInput[], currencyCode: string): Promise<QuoteItemsResponse> {
      const skus = [...new Set(items.map((item) => item.sku))];
      const rows = new Map((await db.select().from(stockItems).where(inArray(stockItems.sku, skus))).map((row) => [row.sku, row]));
      const totals = new Map(mergeLines(items).map((line) => [line.sku, line.quantity]));
      let totalMinor = 0n;
      const lines = items.map(({ sku, quantity }) => {
        const row = rows.get(sku);
        if (row === undefined) return { sku, quantity, available: 0, sufficient: false, known: false };
        if (row.currencyCode !== currencyCode) {
          throw new InvalidArgumentError(`SKU ${sku} is priced in ${row.currencyCode}, not ${currencyCode}`);
        }
        totalMinor += row.unitPriceMinor * BigInt(quantity);
        return {
          sku,
          quantity,
          unitPrice: create(MoneySchema, { currencyCode, amountMinor: row.unitPriceMinor }),
          available: row.available,
          sufficient: row.available >= (totals.get(sku) ?? quantity),
          known: true,
        };
      });
      return create(QuoteItemsResponseSchema, {
        lines,
        total: { currencyCode, amountMinor: totalMinor },
        allAvailable: lines.every((line) => line.sufficient),
      });
    },

    /** Sets the available count and price, creating the SKU if needed; the ledger records the change. */
    async setStock(request: SetStockRequest): Promise<StockItem> {
      const price = request.unitPrice;
      if (price === undefined) throw new InvalidArgumentError("unit_price is required");
      return runTransaction(db, async (tx) => {
        const now = new Date();
        const [before] = await tx.select().from(stockItems).where(eq(stockItems.sku, request.sku)).for("update");
        const delta = request.available - (before?.available ?? 0);
        const [row] = await tx
          .insert(stockItems)
          .values({ sku: request.sku, name: request.name, available: request.available, currencyCode: price.currencyCode, unitPriceMinor: price.amountMinor, updatedAt: now })
          .onConflictDoUpdate({
            target: stockItems.sku,
            set: { name: request.name, available: request.available, currencyCode: price.currencyCode, unitPriceMinor: price.amountMinor, updatedAt: now },
          })
          .returning();
        if (delta !== 0) await tx.insert(stockLedger).values({ sku: request.sku, delta, reason: "set", createdAt: now });
        return toStockItem(row as StockRow);
      });
    },

    /**
     * Adds to or takes from the available count, never below zero. The idempotency key makes a
     * retried adjustment apply once: the retry gets the item as it is now.
     */
    async adjustStock(request: AdjustStockRequest): Promise<StockItem> {
      return runTransaction(db, async (tx) => {
        const now = new Date();
        // The row lock serializes concurrent adjustments of one SKU, so none is lost.
        const [current] = await tx.select().from(stockItems).where(eq(stockItems.sku, request.sku)).for("update");
        if (current === undefined) throw new NotFoundError(`no stock item with SKU ${request.sku}`);
        const recorded = await tx
          .insert(stockLedger)
          .values({ sku: request.sku, delta: request.delta, reason: request.reason || "adjust", idempotencyKey: request.idempotencyKey, createdAt: now })
          .onConflictDoNothing({ target: stockLedger.idempotencyKey })
          .returning({ entryId: stockLedger.entryId });
        if (recorded.length === 0) {
          const [previous] = await tx.select().from(stockLedger).where(eq(stockLedger.idempotencyKey, request.idempotencyKey));
          if (previous !== undefined && (previous.sku !== request.sku || previous.delta !== request.delta)) {
            throw new FailedPreconditionError(
              `idempotency key ${request.idempotencyKey} was used for a different adjustment (${previous.sku} by ${previous.delta})`,
            );
          }
          return toStockItem(current);
        }
        if (current.available + request.delta < 0) {
          throw new FailedPreconditionError(
            `adjusting ${request.sku} by ${request.delta} would leave ${current.available + request.delta} available; stock cannot go below zero`,
          );
        }
        const [row] = await tx
          .update(stockItems)
          .set({ available: sql`${stockItems.available} + ${request.delta}`, updatedAt: now })
          .where(eq(stockItems.sku, request.sku))
          .returning();
        return toStockItem(row as StockRow);
      });
    },
  };
}

export type StockStore = ReturnType<typeof createStockStore>;
