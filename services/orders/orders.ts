// The orders service's use cases behind its RPCs: placing an order (idempotent per key, priced
// by inventory, stored with OrderPlaced in one transaction), reading, listing and cancelling.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate, timestampNow } from "@bufbuild/protobuf/wkt";
import { createHash, randomUUID } from "node:crypto";
import { and, asc, desc, eq, inArray, or, lt, sql, type SQL } from "drizzle-orm";
import { shardOf } from "@protomesh/clients";
import { rateLimitedError, type RateLimiter } from "@protomesh/cache";
import { AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError } from "@protomesh/server";
import { prepareStatement, runTransaction, type Db, type Tx } from "@protomesh/data";
import { prepareEventWrite } from "@protomesh/messaging";
import type { QuoteItemsRequestSchema, QuoteItemsResponse } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import type { CreateOrderRequest, Order } from "protomesh/gen/shop/orders/v1/orders_pb";
import { isAmountOutOfRange, orderTotal } from "../money/money.js";
import { applySagaInput, toOrderMessage } from "./saga.js";
import { orderLines, orders } from "./schema.js";

/** A basket priced from inventory's last answers while inventory cannot answer (inventory-quotes.ts). */
export interface StaleQuote {
  kind: "stale";
  quote: QuoteItemsResponse;
  /** Age of the oldest price used. */
  ageMs: number;
}

/** Prices a basket through inventory (the typed client, with its breaker and deadline). */
export type QuoteItems = (request: MessageInitShape<typeof QuoteItemsRequestSchema>) => Promise<QuoteItemsResponse | StaleQuote>;

export interface OrdersOptions {
  /** How long the saga may run before the tracker cancels the order. */
  sagaDeadlineMs: number;
  /** Inventory's shards (INVENTORY_SHARDS): each order then waits for every shard of its SKUs. Unset: not sharded. */
  inventoryShards?: readonly string[] | undefined;
  /** Orders per user and window (ADR 0051); unset: no limit. */
  createOrderLimit?: { limiter: RateLimiter; limit: number; windowMs: number } | undefined;
}

/** What CreateOrder answers; `quoteAgeMs` is set when the prices came from the fallback, not from inventory. */
export interface PlacedOrder {
  order: Order;
  created: boolean;
  quoteAgeMs?: number;
}

const DEFAULT_PAGE_SIZE = 50;

export type OrderRow = typeof orders.$inferSelect;
export type LineRow = typeof orderLines.$inferSelect;

function requestHash(request: CreateOrderRequest): string {
  const canonical = JSON.stringify([request.userId, request.currencyCode, request.items.map((item) => [item.sku, item.quantity])]);
  return createHash("sha256").update(canonical).digest("hex");
}

interface PageCursor {
  createdAt: string;
  orderId: string;
}

function encodeCursor(row: OrderRow): string {
  return Buffer.from(JSON.stringify({ createdAt: row.createdAt.toISOString(), orderId: row.orderId } satisfies PageCursor)).toString("base64url");
}

function decodeCursor(token: string): PageCursor {
  try {
    const cursor = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Partial<PageCursor>;
    if (typeof cursor.createdAt === "string" && typeof cursor.orderId === "string" && !Number.isNaN(Date.parse(cursor.createdAt))) {
      return { createdAt: cursor.createdAt, orderId: cursor.orderId };
    }
  } catch {
    // Reported below: any undecodable token is the caller's mistake.
  }
  throw new InvalidArgumentError("page_token is not a token from a previous ListOrders response");
}

export async function loadOrders(executor: Pick<Db, "select">, rows: OrderRow[]): Promise<Order[]> {
  if (rows.length === 0) return [];
  const lines = await executor
    .select()
    .from(orderLines)
    .where(inArray(orderLines.orderId, rows.map((row) => row.orderId)))
    .orderBy(asc(orderLines.orderId), asc(orderLines.lineNo));
  const byOrder = groupLines(lines);
  return rows.map((row) => toOrderMessage(row, byOrder.get(row.orderId) ?? []));
}

function groupLines(lines: LineRow[]): Map<string, LineRow[]> {
  const byOrder = new Map<string, LineRow[]>();
  for (const line of lines) byOrder.set(line.orderId, [...(byOrder.get(line.orderId) ?? []), line]);
  return byOrder;
}

// CreateOrder runs these on every call: each is built once, values go in as placeholders (docs/adr/0143).
const orderByKey = prepareStatement((db) =>
  db
    .select()
    .from(orders)
    .where(and(eq(orders.userId, sql.placeholder("userId")), eq(orders.idempotencyKey, sql.placeholder("idempotencyKey")))),
);
const insertOrder = prepareStatement((db) =>
  db
    .insert(orders)
    .values({
      orderId: sql.placeholder("orderId"),
      userId: sql.placeholder("userId"),
      status: "pending",
      currencyCode: sql.placeholder("currencyCode"),
      totalMinor: sql.placeholder("totalMinor"),
      idempotencyKey: sql.placeholder("idempotencyKey"),
      requestHash: sql.placeholder("requestHash"),
      deadline: sql.placeholder("deadline"),
      // As text, so null (inventory not sharded) stays SQL null rather than JSON null.
      stockAwaiting: sql`${sql.placeholder("stockAwaiting")}::text::jsonb`,
      createdAt: sql.placeholder("now"),
      updatedAt: sql.placeholder("now"),
    })
    .onConflictDoNothing({ target: [orders.userId, orders.idempotencyKey] })
    .returning(),
);
// Any number of lines as arrays, so one statement serves every order.
const insertLines = () =>
  sql`insert into ${orderLines} (order_id, line_no, sku, quantity, unit_price_minor)
    select ${sql.placeholder("orderId")}::uuid, l.line_no, l.sku, l.quantity, l.unit_price_minor
    from unnest(${sql.placeholder("lineNos")}::int[], ${sql.placeholder("skus")}::text[], ${sql.placeholder("quantities")}::int[], ${sql.placeholder("unitPricesMinor")}::bigint[]) as l(line_no, sku, quantity, unit_price_minor)`;
// The lines go with the event, in one statement (writeEvent's `alongside`): the order row they
// reference was inserted by the statement before.
const eventWithLines = prepareEventWrite(() => [insertLines()]);

export function createOrders(db: Db, quoteItems: QuoteItems, options: OrdersOptions) {
  const shards = options.inventoryShards;
  async function findByKey(executor: Db, userId: string, idempotencyKey: string) {
    const [row] = await orderByKey.execute(executor, { userId, idempotencyKey });
    return row;
  }

  /** The orders among `orderIds` that exist, in two statements whatever their number. */
  async function getOrders(orderIds: readonly string[]): Promise<Order[]> {
    if (orderIds.length === 0) return [];
    return loadOrders(db, await db.select().from(orders).where(inArray(orders.orderId, [...orderIds])));
  }

  async function replay(row: OrderRow, request: CreateOrderRequest): Promise<{ order: Order; created: boolean }> {
    if (row.requestHash !== requestHash(request)) {
      throw new AlreadyExistsError(`idempotency key ${request.idempotencyKey} was already used for a different order (${row.orderId}); use a new key for a new order`);
    }
    const [order] = await loadOrders(db, [row]);
    return { order: order as Order, created: false };
  }

  /**
   * Prices the basket through inventory and totals it here, from the quoted lines, with checked
   * arithmetic: a quote is another service's answer (or a remembered one), so a price outside the
   * contract's bounds, or a total payments would not capture, fails with FailedPrecondition.
   */
  async function priceOrder(request: CreateOrderRequest): Promise<{ quote: QuoteItemsResponse; totalMinor: bigint; quoteAge: { quoteAgeMs?: number } }> {
    try {
      const priced = await quoteItems({ items: request.items.map(({ sku, quantity }) => ({ sku, quantity })), currencyCode: request.currencyCode });
      const quote = "kind" in priced ? priced.quote : priced;
      const unknown = quote.lines.filter((line) => !line.known).map((line) => line.sku);
      if (unknown.length > 0) throw new FailedPreconditionError(`unknown SKU ${unknown.join(", ")}: nothing was ordered`);
      const totalMinor = orderTotal(quote.lines.map(({ sku, quantity, unitPrice }) => ({ sku, quantity, unitPriceMinor: unitPrice?.amountMinor ?? 0n })));
      if (totalMinor === 0n) {
        throw new FailedPreconditionError(`the order totals 0 ${request.currencyCode}: payments captures only positive amounts, so nothing was ordered`);
      }
      return { quote, totalMinor, quoteAge: "kind" in priced ? { quoteAgeMs: priced.ageMs } : {} };
    } catch (error) {
      if (!isAmountOutOfRange(error)) throw error;
      throw new FailedPreconditionError(`inventory's prices cannot be charged: ${error.message}; nothing was ordered`, { cause: error });
    }
  }

  return {
    async createOrder(request: CreateOrderRequest): Promise<PlacedOrder> {
      const limit = options.createOrderLimit;
      if (limit !== undefined) {
        const decision = await limit.limiter.consume(request.userId);
        if (!decision.allowed) {
          const seconds = Math.ceil(decision.retryAfterMs / 1000);
          throw rateLimitedError(`user ${request.userId} may place ${limit.limit} orders per ${limit.windowMs / 1000} s; retry in ${seconds} s`, decision.retryAfterMs);
        }
      }
      const existing = await findByKey(db, request.userId, request.idempotencyKey);
      if (existing !== undefined) return replay(existing, request);

      const { quote, totalMinor, quoteAge } = await priceOrder(request);

      const orderId = randomUUID();
      const now = new Date();
      const deadline = new Date(now.getTime() + options.sagaDeadlineMs);
      const placed = await runTransaction(db, async (tx) => {
        const inserted = await insertOrder.execute(tx, {
          orderId,
          userId: request.userId,
          currencyCode: request.currencyCode,
          totalMinor,
          idempotencyKey: request.idempotencyKey,
          requestHash: requestHash(request),
          deadline,
          stockAwaiting: shards === undefined ? null : JSON.stringify([...new Set(request.items.map((item) => shardOf(item.sku, shards) as string))].sort()),
          now,
        });
        const row = inserted[0];
        // A concurrent call with the same key won the insert; answer as its replay.
        if (row === undefined) return undefined;
        const lines = quote.lines.map((line, index) => ({
          orderId,
          lineNo: index + 1,
          sku: line.sku,
          quantity: line.quantity,
          unitPriceMinor: line.unitPrice?.amountMinor ?? 0n,
        }));
        await eventWithLines.write(tx, {
          aggregateType: "order",
          aggregateId: orderId,
          schema: OrderPlacedSchema,
          event: create(OrderPlacedSchema, {
            eventId: randomUUID(),
            orderId,
            occurredAt: timestampNow(),
            userId: request.userId,
            lines: lines.map((line) => ({ sku: line.sku, quantity: line.quantity, unitPrice: { currencyCode: request.currencyCode, amountMinor: line.unitPriceMinor } })),
            total: { currencyCode: request.currencyCode, amountMinor: totalMinor },
            deadline: timestampFromDate(deadline),
          }),
        }, {
          orderId,
          lineNos: lines.map((line) => line.lineNo),
          skus: lines.map((line) => line.sku),
          quantities: lines.map((line) => line.quantity),
          unitPricesMinor: lines.map((line) => String(line.unitPriceMinor)),
        });
        return toOrderMessage(row, lines);
      });
      if (placed !== undefined) return { order: placed, created: true, ...quoteAge };
      const winner = await findByKey(db, request.userId, request.idempotencyKey);
      if (winner === undefined) throw new Error(`order for idempotency key ${request.idempotencyKey} vanished after a conflicting insert`);
      return replay(winner, request);
    },

    async getOrder(orderId: string): Promise<Order> {
      const [order] = await getOrders([orderId]);
      if (order === undefined) throw new NotFoundError(`no order with id ${orderId}`);
      return order;
    },

    getOrders,

    /** Newest first; the token is a keyset cursor, so pages stay stable while orders arrive. */
    async listOrders(request: { userId: string; pageSize: number; pageToken: string }): Promise<{ orders: Order[]; nextPageToken: string }> {
      const pageSize = request.pageSize === 0 ? DEFAULT_PAGE_SIZE : request.pageSize;
      const conditions: SQL[] = [];
      if (request.userId !== "") conditions.push(eq(orders.userId, request.userId));
      if (request.pageToken !== "") {
        const cursor = decodeCursor(request.pageToken);
        const createdAt = new Date(cursor.createdAt);
        const after = or(lt(orders.createdAt, createdAt), and(eq(orders.createdAt, createdAt), lt(orders.orderId, cursor.orderId)));
        if (after !== undefined) conditions.push(after);
      }
      const rows = await db
        .select()
        .from(orders)
        .where(and(...conditions))
        .orderBy(desc(orders.createdAt), desc(orders.orderId))
        .limit(pageSize + 1);
      const page = rows.slice(0, pageSize);
      const last = page.at(-1);
      return {
        orders: await loadOrders(db, page),
        nextPageToken: rows.length > pageSize && last !== undefined ? encodeCursor(last) : "",
      };
    },

    async cancelOrder(orderId: string): Promise<Order> {
      return runTransaction(db, async (tx: Tx) => {
        const result = await applySagaInput(tx, orderId, { kind: "cancel-requested" });
        if (result === undefined) throw new NotFoundError(`no order with id ${orderId}`);
        if (result.decision.kind === "reject") throw new FailedPreconditionError(`cannot cancel order ${orderId}: ${result.decision.why}`);
        const [order] = await loadOrders(tx, [result.row]);
        return order as Order;
      });
    },
  };
}

export type Orders = ReturnType<typeof createOrders>;
