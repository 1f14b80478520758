// Stock reads and admin writes behind the InventoryService RPCs. Reads go through a read-through
// cache of stock items (Redis when configured); every write invalidates what it changed after it
// commits, and so do the saga handlers (inventory.events.ts).
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { eq, sql } from "drizzle-orm";
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from "@protomesh/server";
import { createReadThroughCache, protobufCodec, type ReadThroughCache } from "@protomesh/cache";
import { prepareStatement, runTransaction, type Db } from "@protomesh/data";
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
import { checkUnitPrice, isAmountOutOfRange, orderTotal, type PricedLine } from "../money/money.js";
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

export type StockCache = ReadThroughCache<StockItem>;

/** Where stock items are cached; the key is the SKU. */
export const STOCK_CACHE_NAMESPACE = "inventory:stock";

/** A cache that never stores (no Redis): reads go to the database, one load per SKU at a time. */
export const uncachedStock = (): StockCache => createReadThroughCache(undefined, { namespace: STOCK_CACHE_NAMESPACE, ttlMs: 1, codec: protobufCodec(StockItemSchema) });

// Every quote reads it (CreateOrder's QuoteItems): built once, the SKUs as one array (docs/adr/0143).
const stockBySkus = prepareStatement((db) => db.select().from(stockItems).where(sql`${stockItems.sku} = any(${sql.placeholder("skus")}::text[])`));

export function createStockStore(db: Db, cache: StockCache = uncachedStock()) {
  async function loadStock(skus: string[]): Promise<Map<string, StockItem>> {
    const rows = await stockBySkus.execute(db, { skus });
    return new Map(rows.map((row) => [row.sku, toStockItem(row)]));
  }

  return {
    async getStock(sku: string): Promise<StockItem> {
      const item = (await cache.getMany([sku], loadStock)).get(sku);
      if (item === undefined) throw new NotFoundError(`no stock item with SKU ${sku}`);
      return item;
    },

    /**
     * Prices a basket; a SKU listed twice is checked against its total. Reserves nothing. A stored
     * price outside the contract's bounds (a row that never passed SetStock's rules) fails the
     * quote with FailedPrecondition naming the SKU, rather than a negative or overflowing total.
     */
    async quote(items: readonly QuoteLineInput[], currencyCode: string): Promise<QuoteItemsResponse> {
      const stock = await cache.getMany(items.map((item) => item.sku), loadStock);
      const totals = new Map(mergeLines(items).map((line) => [line.sku, line.quantity]));
      const priced: PricedLine[] = [];
      const lines = items.map(({ sku, quantity }) => {
        const item = stock.get(sku);
        if (item === undefined) return { sku, quantity, available: 0, sufficient: false, known: false };
        const price = item.unitPrice ?? create(MoneySchema);
        if (price.currencyCode !== currencyCode) {
          throw new InvalidArgumentError(`SKU ${sku} is priced in ${price.currencyCode}, not ${currencyCode}`);
        }
        priced.push({ sku, quantity, unitPriceMinor: price.amountMinor });
        return {
          sku,
          quantity,
          unitPrice: create(MoneySchema, { currencyCode, amountMinor: price.amountMinor }),
          available: item.available,
          sufficient: item.available >= (totals.get(sku) ?? quantity),
          known: true,
        };
      });
      let totalMinor: bigint;
      try {
        totalMinor = orderTotal(priced);
      } catch (error) {
        if (!isAmountOutOfRange(error)) throw error;
        throw new FailedPreconditionError(`cannot price the basket: ${error.message}; set a valid price with SetStock`, { cause: error });
      }
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
      try {
        checkUnitPrice(price.amountMinor, "unit_price.amount_minor");
      } catch (error) {
        if (!isAmountOutOfRange(error)) throw error;
        throw new InvalidArgumentError(error.message, { cause: error });
      }
      return afterCommit([request.sku], runTransaction(db, async (tx) => {
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
      }));
    },

    /**
     * Adds to or takes from the available count, never below zero. The idempotency key makes a
     * retried adjustment apply once: the retry gets the item as it is now.
     */
    async adjustStock(request: AdjustStockRequest): Promise<StockItem> {
      return afterCommit([request.sku], runTransaction(db, async (tx) => {
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
      }));
    },
  };

  /** Invalidates `skus` once `write` has settled (committed or not: a needless invalidation is harmless). */
  async function afterCommit<T>(skus: string[], write: Promise<T>): Promise<T> {
    try {
      return await write;
    } finally {
      await cache.invalidate(skus);
    }
  }
}

export type StockStore = ReturnType<typeof createStockStore>;
