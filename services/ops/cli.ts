// npm run ops -- <command>: read-only views of the saga and dead letters, and dead-letter replay.
//   saga <order-id>                 where the order stands in orders, inventory and payments
//   dead-letters <service>          events a service's consumers gave up on (not yet replayed)
//   replay <service> <id>           publish a dead letter again on its subject
// Databases: <SERVICE>_DATABASE_URL (e.g. ORDERS_DATABASE_URL), else the PGlite directory
// DATA_DIR/<service> (default .data/<service>; only while that service is stopped). NATS: NATS_URL.
// Sharded inventory (ADR 0105): INVENTORY_SHARDS names the shards, each a database of its own
// (INVENTORY_0_DATABASE_URL for inventory-0, ...), and a shard's name stands for a service.
import { connect } from "@nats-io/transport-node";
import { openDatabase, type Database } from "@protomesh/data";
import { createDeadLetterStore, replayDeadLetter } from "@protomesh/messaging";
import { createJetStreamBus } from "@protomesh/messaging/jetstream";
import { pendingDeadLetters, sagaView } from "./saga-views.js";

const inventoryShards = (process.env.INVENTORY_SHARDS ?? "").split(",").map((shard) => shard.trim()).filter((shard) => shard !== "");
/** The inventory databases: "inventory", or one per shard. */
const inventoryDatabases = inventoryShards.length === 0 ? ["inventory"] : inventoryShards;
const databaseNames = ["orders", ...inventoryDatabases, "payments"];
const usage = `usage: npm run ops -- saga <order-id> | dead-letters <${databaseNames.join("|")}> | replay <service> <id>`;

function databaseArg(value: string | undefined): string {
  if (!databaseNames.includes(value ?? "")) throw new Error(`unknown service ${JSON.stringify(value ?? "")}\n${usage}`);
  return value as string;
}

/** `name`: a service, or an inventory shard. */
function open(name: string): Promise<Database> {
  const url = process.env[`${name.toUpperCase().replace(/-/g, "_")}_DATABASE_URL`];
  if (url !== undefined && url !== "") return openDatabase({ url });
  return openDatabase({ dataDir: `${process.env.DATA_DIR ?? ".data"}/${name}` });
}

const json = (value: unknown) => JSON.stringify(value, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? `<${v.length} bytes>` : v), 2);

async function run(args: string[]): Promise<void> {
  const [command, first, second] = args;
  if (command === "saga" && first !== undefined) {
    const dbs = new Map(await Promise.all(databaseNames.map(async (name) => [name, await open(name)] as const)));
    const db = (name: string) => (dbs.get(name) as Database).db;
    try {
      const inventory = Object.fromEntries(inventoryDatabases.map((name) => [name, db(name)]));
      console.log(json(await sagaView({ orders: db("orders"), inventory, payments: db("payments") }, first)));
    } finally {
      await Promise.all([...dbs.values()].map((database) => database.close()));
    }
    return;
  }
  if (command === "dead-letters") {
    const database = await open(databaseArg(first));
    try {
      console.log(json(await pendingDeadLetters(database.db)));
    } finally {
      await database.close();
    }
    return;
  }
  if (command === "replay" && second !== undefined && Number.isInteger(Number(second))) {
    const database = await open(databaseArg(first));
    const nc = await connect({ servers: (process.env.NATS_URL ?? "nats://127.0.0.1:4222").split(",") });
    try {
      const ack = await replayDeadLetter(createDeadLetterStore(database.db), await createJetStreamBus(nc), Number(second));
      console.log(`replayed dead letter ${second} as ${ack.stream} #${ack.sequence}`);
    } finally {
      await nc.close();
      await database.close();
    }
    return;
  }
  throw new Error(usage);
}

run(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
