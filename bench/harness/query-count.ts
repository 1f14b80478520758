// Counts the SQL this process sends to PostgreSQL, at the driver: every node-postgres
// `Client.query` call (pooled queries, transactions, the LISTEN connection) is one round trip,
// since node-postgres waits for each answer before it sends the next query on a connection.
// Statements are counted by their first keyword; a parameterless text with several
// `;`-separated statements (the simple protocol allows it) counts each of them.
// Wrapping `Client.prototype` alone counts each query once: `Pool.query` goes through it.
import pg from "pg";

export interface QueryTotals {
  /** `Client.query` calls: requests answered before the connection sends the next. */
  roundTrips: number;
  statements: number;
  /** Statements by first keyword, writes with their table: begin, select, update outbox, with, … */
  byKind: Record<string, number>;
}

const totals: QueryTotals = { roundTrips: 0, statements: 0, byKind: {} };

function textOf(args: unknown[]): { text: string; hasValues: boolean } {
  const [first, second] = args;
  if (typeof first === "string") return { text: first, hasValues: Array.isArray(second) && second.length > 0 };
  if (first !== null && typeof first === "object" && "text" in first) {
    const config = first as { text?: unknown; values?: unknown };
    const values = Array.isArray(second) ? second : config.values;
    return { text: typeof config.text === "string" ? config.text : "", hasValues: Array.isArray(values) && values.length > 0 };
  }
  return { text: "", hasValues: false };
}

// The first word of a statement, lower-cased, and for a write the table it names (`update
// outbox`, `insert inbox`), read char by char: the counter runs on every query of the measured
// services, so it must cost next to nothing.
function wordAt(text: string, from: number): { word: string; end: number } {
  let i = from;
  while (i < text.length && (text.charCodeAt(i) <= 32 || text.charCodeAt(i) === 40 || text.charCodeAt(i) === 34)) i++;
  let end = i;
  while (end < text.length && end - i < 40 && /[\w.]/.test(text.charAt(end))) end++;
  return { word: text.slice(i, end).toLowerCase(), end };
}

function kindOf(text: string): string {
  const first = wordAt(text, 0);
  if (first.word === "") return "other";
  if (first.word !== "update" && first.word !== "insert" && first.word !== "delete") return first.word;
  let next = wordAt(text, first.end);
  if (next.word === "into" || next.word === "from") next = wordAt(text, next.end);
  return `${first.word} ${next.word}`;
}

function count(text: string, hasValues: boolean): void {
  totals.roundTrips++;
  const parts = hasValues || !text.includes(";") ? [text] : text.split(";").filter((part) => part.trim() !== "");
  for (const part of parts) {
    const kind = kindOf(part);
    totals.statements++;
    totals.byKind[kind] = (totals.byKind[kind] ?? 0) + 1;
  }
}

/** Starts counting in this process (once; later calls do nothing). */
export function countQueries(): void {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown; __counted?: boolean };
  if (proto.__counted === true) return;
  const query = proto.query;
  proto.query = function countedQuery(this: unknown, ...args: unknown[]) {
    const { text, hasValues } = textOf(args);
    count(text, hasValues);
    return query.apply(this, args);
  };
  proto.__counted = true;
}

/** A copy of the totals so far. */
export const queryTotals = (): QueryTotals => ({ ...totals, byKind: { ...totals.byKind } });
