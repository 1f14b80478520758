// The shop's money arithmetic, held to the contract's bounds (proto/shop/common/v1/money.proto).
// Amounts are bigints, so nothing wraps; a price, quantity or total outside the bounds is refused
// with an error naming it, before it can be stored, charged or encoded as an int64. Pure: each
// service turns the error into the gRPC code that fits where the value came from.

/** The highest unit price in minor units (rule money.unit_price). */
export const MAX_UNIT_PRICE_MINOR = 100_000_000_000n;

/** The most units of one line (LineItemInput.quantity, QuoteLineInput.quantity). */
export const MAX_LINE_QUANTITY = 1000;

/** The most lines of one order (CreateOrderRequest.items, QuoteItemsRequest.items). */
export const MAX_ORDER_LINES = 50;

/** The highest order total (rules money.total, money.charge): every line at the highest price and quantity. */
export const MAX_TOTAL_MINOR = MAX_UNIT_PRICE_MINOR * BigInt(MAX_LINE_QUANTITY) * BigInt(MAX_ORDER_LINES);

/** A price, quantity or total outside the contract's bounds; `field` says which. */
export class AmountOutOfRangeError extends RangeError {
  readonly isAmountOutOfRange = true;
  override readonly name = "AmountOutOfRangeError";

  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** True for an {@link AmountOutOfRangeError} from any copy of this module. */
export function isAmountOutOfRange(error: unknown): error is AmountOutOfRangeError {
  return typeof error === "object" && error !== null && (error as Partial<AmountOutOfRangeError>).isAmountOutOfRange === true;
}

/** Returns the price if it is 0..MAX_UNIT_PRICE_MINOR; `field` names it in the error otherwise. */
export function checkUnitPrice(unitPriceMinor: bigint, field: string): bigint {
  if (unitPriceMinor < 0n || unitPriceMinor > MAX_UNIT_PRICE_MINOR) {
    throw new AmountOutOfRangeError(field, `${field} is ${unitPriceMinor} minor units, outside 0..${MAX_UNIT_PRICE_MINOR}`);
  }
  return unitPriceMinor;
}

export interface PricedLine {
  sku: string;
  quantity: number;
  unitPriceMinor: bigint;
}

/**
 * The sum of unit price × quantity over the lines. Refuses a price or quantity outside the
 * contract's bounds (naming the line's SKU) and a sum over MAX_TOTAL_MINOR (more lines than the
 * contract allows), so the result always fits the int64 fields that carry it.
 */
export function orderTotal(lines: Iterable<PricedLine>): bigint {
  let total = 0n;
  for (const { sku, quantity, unitPriceMinor } of lines) {
    checkUnitPrice(unitPriceMinor, `unit_price of SKU ${sku}`);
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > MAX_LINE_QUANTITY) {
      throw new AmountOutOfRangeError(`quantity of SKU ${sku}`, `quantity of SKU ${sku} is ${quantity}, outside 1..${MAX_LINE_QUANTITY}`);
    }
    total += unitPriceMinor * BigInt(quantity);
  }
  if (total > MAX_TOTAL_MINOR) {
    throw new AmountOutOfRangeError("total", `the total is ${total} minor units, over the highest order total ${MAX_TOTAL_MINOR}`);
  }
  return total;
}
