/**
 * The shard that owns `key` among `shards`, by rendezvous (highest random weight) hashing: every
 * shard scores the key and the highest score wins. Every client and every server that computes
 * it with the same shard names agrees, without a ring to share; adding a shard moves only the
 * keys it wins (about 1 / (n + 1) of them), removing one moves only its own keys. Undefined
 * when there is no shard.
 */
export function shardOf(key: string, shards: readonly string[]): string | undefined {
  let owner: string | undefined;
  let best = -1;
  for (const shard of shards) {
    const score = scoreOf(shard, key);
    if (score > best || (score === best && owner !== undefined && shard < owner)) {
      best = score;
      owner = shard;
    }
  }
  return owner;
}

/**
 * 32-bit FNV-1a over the UTF-16 code units of "<shard>\0<key>", finished with MurmurHash3's fmix32
 * so that keys differing in their last character spread over all shards. Other implementations
 * (a migration script, a SQL function) must hash the same units; item ids are ASCII, where code units
 * and UTF-8 bytes coincide.
 */
export function scoreOf(shard: string, key: string): number {
  let h = 0x811c9dc5;
  const text = `${shard}\u0000${key}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
