import type { Http2Session } from "node:http2";
import { types } from "node:util";

/**
 * A Map from growing integer ids, kept in a plain object's integer-keyed elements, for registries
 * that add and delete an entry per call.
 *
 * V8 replaces a Map's hash table every few dozen additions and deletions, and a replaced table
 * keeps, for iterators, a pointer to the table that replaced it and the entries it held. Once one
 * replaced table has been promoted to the old generation, the chain from it keeps every later
 * table, and every entry those tables held with everything the entries reach, alive through each
 * collection of the young generation until a full one: whole calls are copied, then promoted
 * (docs/benchmarks.md, ADR 120). An object's elements are rehashed into a new store that nothing
 * links to, so no chain forms.
 */
export class IdRegistry<V> implements Map<number, V> {
  #entries: Record<number, V> = Object.create(null) as Record<number, V>;
  #size = 0;

  readonly [Symbol.toStringTag] = "IdRegistry";

  get size(): number {
    return this.#size;
  }

  get(id: number): V | undefined {
    return this.#entries[id];
  }

  has(id: number): boolean {
    return id in this.#entries;
  }

  set(id: number, value: V): this {
    if (!(id in this.#entries)) this.#size++;
    this.#entries[id] = value;
    return this;
  }

  delete(id: number): boolean {
    if (!(id in this.#entries)) return false;
    delete this.#entries[id];
    this.#size--;
    return true;
  }

  clear(): void {
    this.#entries = Object.create(null) as Record<number, V>;
    this.#size = 0;
  }

  // Ids only grow, so ascending key order (an object's integer keys) is insertion order.
  *entries(): MapIterator<[number, V]> {
    for (const key of Object.keys(this.#entries)) {
      const id = Number(key);
      yield [id, this.#entries[id] as V];
    }
  }

  *keys(): MapIterator<number> {
    for (const [id] of this.entries()) yield id;
  }

  *values(): MapIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): MapIterator<[number, V]> {
    return this.entries();
  }

  forEach(callback: (value: V, id: number, map: Map<number, V>) => void, thisArg?: unknown): void {
    for (const [id, value] of this.entries()) callback.call(thisArg, value, id, this);
  }
}

/**
 * node:http2 keeps a session's open streams in a Map by stream id, one entry per call: this puts
 * an IdRegistry with the same entries in its place. Only a session with the internal shape this
 * was measured on (Node 20: a `state` symbol holding a Map `streams`) is changed; returns whether
 * it was.
 */
export function useIdRegistryForStreams(session: Http2Session): boolean {
  const state = sessionState(session);
  // Node's own Map subclass has a prototype of its own, so ask for the internal slot, not `instanceof`.
  if (state === undefined || !types.isMap(state.streams)) return false;
  const registry = new IdRegistry<unknown>();
  Map.prototype.forEach.call(state.streams, (stream: unknown, id: number) => registry.set(id, stream));
  state.streams = registry;
  return true;
}

/** What holds a session's open streams in node:http2's internal state, if it has that state. */
export function sessionStreams(session: Http2Session): unknown {
  return sessionState(session)?.streams;
}

function sessionState(session: Http2Session): { streams?: unknown } | undefined {
  const key = Object.getOwnPropertySymbols(session).find((symbol) => symbol.description === "state");
  const state: unknown = key === undefined ? undefined : (session as unknown as Record<symbol, unknown>)[key];
  return typeof state === "object" && state !== null ? state : undefined;
}
