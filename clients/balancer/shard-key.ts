import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { shardOf } from "./shard-hash.js";

/**
 * Header that carries a call's shard from `shardKeyInterceptor` to the balancer, which removes it
 * before the request leaves (as the attempt header: the one channel a session manager sees).
 */
export const SHARD_HEADER = "protomesh-shard";

export interface ShardRouting {
  /**
   * Every shard, by the subset name its addresses carry (a WeightedResolver subset per shard).
   * The list is configuration, not what resolved so far, so a shard whose addresses are not known
   * yet still owns its keys.
   */
  shards: readonly string[];
  /** How to find the shard key in each routed method's request, by method name: `{ GetItem: (r) => r.itemId }`. */
  keys: Readonly<Record<string, (request: never) => string>>;
}

/**
 * Routes unary calls by a field of their request to the shard that owns it (`shardOf`, rendezvous
 * hashing), and never to another shard, even when the owner has no endpoint available: the data
 * is not there, so the call fails with Unavailable naming the shard. A method without a key is
 * refused with Unimplemented rather than sent to an arbitrary shard.
 */
export function shardKeyInterceptor(routing: ShardRouting): Interceptor {
  const shards = [...routing.shards];
  if (shards.length === 0 || new Set(shards).size !== shards.length || shards.includes("")) {
    throw new TypeError(`shardKeyInterceptor: shards must be a non-empty list of unique names, got ${JSON.stringify(shards)}`);
  }
  return (next) => async (req) => {
    const keyOf = routing.keys[req.method.name] as ((request: unknown) => string) | undefined;
    if (keyOf === undefined || req.stream) {
      throw new ConnectError(`${req.service.typeName}/${req.method.name} has no shard key, so no shard to send it to; split the call per shard or add its key`, Code.Unimplemented);
    }
    const key = keyOf(req.message);
    if (key === "") {
      throw new ConnectError(`${req.method.name}: the shard key is empty`, Code.InvalidArgument);
    }
    req.header.set(SHARD_HEADER, shardOf(key, shards) as string);
    return next(req);
  };
}
