import { connectSharedRedis, createReadThroughCache, protobufCodec } from "@protomesh/cache";
import { OrderSchema, type Order } from "protomesh/gen/shop/orders/v1/orders_pb";

/** GetOrder through Redis. `load` reads the database; call `changed` once a change has committed. */
export function cachedOrders(redisUrl: string, load: (orderId: string) => Promise<Order>) {
  const redis = connectSharedRedis(redisUrl); // 100 ms per command, no offline queue
  const cache = createReadThroughCache(redis, { namespace: "example:order", ttlMs: 5_000, codec: protobufCodec(OrderSchema) });
  return {
    getOrder: (orderId: string) => cache.get(orderId, load),
    changed: (orderId: string) => cache.invalidate([orderId]),
    close: () => redis.close(),
  };
}
