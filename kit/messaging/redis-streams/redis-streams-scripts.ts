// The Lua scripts that make each bus operation one atomic step on the Redis server. Each script's
// keys share the stream's hash tag, so they also run on a Redis Cluster node.
import type { Redis } from "ioredis";

/** Server time in ms, inside a script: the clock every consumer's ack wait and nak delay is measured on. */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * KEYS: stream, sequence counter, dedupe key. ARGV: subject, headers (JSON), data, duplicate window
 * ms (0: no dedupe), max age ms (0 keeps everything). Returns {sequence, 1 if duplicate else 0}.
 */
const PUBLISH = `${NOW}
local window = tonumber(ARGV[4])
if window > 0 then
  local seen = redis.call('GET', KEYS[3])
  if seen then return {tonumber(seen), 1} end
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  -- A new stream, or a Redis that lost it: start above any sequence handed out before (server
  -- time in microseconds), so dead letters, unique per stream sequence, never collide.
  redis.call('SET', KEYS[2], t[1] .. string.format('%06d', tonumber(t[2])))
end
local sequence = redis.call('INCR', KEYS[2])
local maxAge = tonumber(ARGV[5])
if maxAge > 0 then
  redis.call('XADD', KEYS[1], 'MINID', now - maxAge, '*', 'seq', sequence, 'subject', ARGV[1], 'headers', ARGV[2], 'data', ARGV[3])
else
  redis.call('XADD', KEYS[1], '*', 'seq', sequence, 'subject', ARGV[1], 'headers', ARGV[2], 'data', ARGV[3])
end
if window > 0 then redis.call('SET', KEYS[3], sequence, 'PX', window) end
return {sequence, 0}`;

/**
 * Hands out up to `free` deliveries to one consumer of a group, in this order: nak'ed messages
 * whose delay is over, messages idle past the ack wait (their consumer died or stalled), new
 * messages (while the group's pending entries stay under maxAckPending). A claim increments the
 * entry's delivery counter; past maxDeliver (> 0) the entry is acked instead, like JetStream.
 *
 * KEYS: stream, nak schedule (sorted set id -> due ms). ARGV: group, consumer, free, ack wait ms
 * (0: skip the idle scan), maxAckPending, maxDeliver.
 * Returns {deliveries {id, deliveryCount, fields}, last stream id when new messages ran out
 * (else false), next nak due ms (else false), server now ms}.
 */
const FETCH = `${NOW}
local stream, naks, group, me = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local free, ackWait, maxAckPending, maxDeliver = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local out = {}
local function claim(id, minIdle, deliveries)
  if maxDeliver > 0 and deliveries >= maxDeliver then
    redis.call('XACK', stream, group, id)
    return
  end
  local entry = redis.call('XCLAIM', stream, group, me, minIdle, id)[1]
  if entry then
    out[#out + 1] = {entry[1], deliveries + 1, entry[2]}
    free = free - 1
  else
    redis.call('XACK', stream, group, id)
  end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', naks, '-inf', now, 'LIMIT', 0, free)) do
  redis.call('ZREM', naks, id)
  local pending = redis.call('XPENDING', stream, group, id, id, 1)[1]
  if pending then claim(id, 0, pending[4]) end
end
if free > 0 and ackWait > 0 then
  local scan = free + redis.call('ZCARD', naks)
  for _, pending in ipairs(redis.call('XPENDING', stream, group, 'IDLE', ackWait, '-', '+', scan)) do
    if free == 0 then break end
    if not redis.call('ZSCORE', naks, pending[1]) then claim(pending[1], ackWait, pending[4]) end
  end
end
local lastId = false
local allowed = math.min(free, maxAckPending - redis.call('XPENDING', stream, group)[1])
if allowed > 0 then
  local read = redis.call('XREADGROUP', 'GROUP', group, me, 'COUNT', allowed, 'STREAMS', stream, '>')
  local got = 0
  if read then
    for _, entry in ipairs(read[1][2]) do
      out[#out + 1] = {entry[1], 1, entry[2]}
      got = got + 1
    end
  end
  if got < allowed then
    local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
    lastId = last and last[1] or '0-0'
  end
end
local due = redis.call('ZRANGE', naks, 0, 0, 'WITHSCORES')[2]
return {out, lastId, due and tonumber(due) or false, now}`;

/** KEYS: stream, nak schedule. ARGV: group, id. Settles the entry for good. Returns 1 if it was pending. */
const SETTLE = `redis.call('ZREM', KEYS[2], ARGV[2])
return redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])`;

/**
 * KEYS: stream, nak schedule. ARGV: group, consumer, id, delay ms. Schedules the redelivery of an
 * entry the consumer still owns; a delivery another consumer has claimed since is left alone.
 */
const NAK = `${NOW}
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)[1]
if not pending or pending[2] ~= ARGV[2] then return 0 end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[3])
return 1`;

/**
 * KEYS: stream. ARGV: group, consumer, id. Restarts the ack wait of an entry the consumer still
 * owns (XCLAIM to itself; JUSTID leaves the delivery counter alone).
 */
const WORKING = `local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)[1]
if not pending or pending[2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1`;

/**
 * KEYS: stream. ARGV: group, idle ms. Deletes the group's consumers that hold no pending entry and
 * have been idle that long (subscribers of stopped processes); in one script, so no entry can be
 * handed to a consumer between the check and the delete. Returns how many it deleted.
 */
const PRUNE = `local deleted = 0
for _, info in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local fields = {}
  for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
  if fields['pending'] == 0 and fields['idle'] >= tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], fields['name'])
    deleted = deleted + 1
  end
end
return deleted`;

type Arg = string | number | Buffer;
type Call = (...args: Arg[]) => Promise<unknown>;

/** The scripts, bound to one client; ioredis sends EVALSHA and falls back to EVAL once per connection. */
export interface StreamScripts {
  publish(keys: [string, string, string], args: [string, string, Uint8Array, number, number]): Promise<[number, number]>;
  fetch(keys: [string, string], args: [string, string, number, number, number, number]): Promise<FetchReply>;
  settle(keys: [string, string], args: [string, string]): Promise<number>;
  nak(keys: [string, string], args: [string, string, string, number]): Promise<number>;
  working(keys: [string], args: [string, string, string]): Promise<number>;
  prune(keys: [string], args: [string, number]): Promise<number>;
}

/** Raw FETCH reply; strings arrive as Buffers so payloads stay binary. */
export type FetchReply = [[Buffer, number, Buffer[]][], Buffer | null, number | null, number];

export function bindScripts(client: Redis): StreamScripts {
  const define = (name: string, numberOfKeys: number, lua: string): Call => {
    const command = `protomeshStreams${name}`;
    client.defineCommand(command, { numberOfKeys, lua });
    const commands = client as unknown as Record<string, Call>;
    return (...args) => commands[`${command}Buffer`]!.apply(client, args);
  };
  const publish = define("Publish", 3, PUBLISH);
  const fetch = define("Fetch", 2, FETCH);
  const settle = define("Settle", 2, SETTLE);
  const nak = define("Nak", 2, NAK);
  const working = define("Working", 1, WORKING);
  const prune = define("Prune", 1, PRUNE);
  return {
    publish: (keys, [subject, headers, data, windowMs, maxAgeMs]) =>
      publish(...keys, subject, headers, Buffer.from(data.buffer, data.byteOffset, data.byteLength), windowMs, maxAgeMs) as Promise<[number, number]>,
    fetch: (keys, args) => fetch(...keys, ...args) as Promise<FetchReply>,
    settle: (keys, args) => settle(...keys, ...args) as Promise<number>,
    nak: (keys, args) => nak(...keys, ...args) as Promise<number>,
    working: (keys, args) => working(...keys, ...args) as Promise<number>,
    prune: (keys, args) => prune(...keys, ...args) as Promise<number>,
  };
}
