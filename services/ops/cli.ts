// npm run ops -- <command>: read-only views of the saga and dead letters, and dead-letter replay.
//   saga <order-id>                 where the order stands in orders, inventory and payments
//   dead-letters <service>          events a service's consumers gave up on (not yet replayed)
//   replay <service> <id>           publish a dead letter again on its subject
// Databases: <SERVICE>_DATABASE_URL (e.g. ORDERS_DATABASE_URL), else the PGlite directory
// DATA_DIR/<service> (default .data/<service>; only while that service is stopped). NATS: NATS_URL.
import { connect } from "@nats-io/transport-node";
import { openDatabase, type Database } from "protomesh/kit/data";
import { createDeadLetterStore, createJetStreamBus, replayDeadLetter } from "protomesh/kit/messaging";
import type { ServiceName } from "../saga/topology.js";
import { pendingDeadLetters, sagaView } from "./saga-views.js";

const services: ServiceName[] = ["orders", "inventory", "payments"];
const usage = "usage: npm run ops -- saga <order-id> | dead-letters <orders|inventory|payments> | replay <service> <id>";

function serviceArg(value: string | undefined): ServiceName {
  if (!services.includes(value as ServiceName)) throw new Error(`unknown service ${JSON.stringify(value ?? "")}\n${usage}`);
  return value as ServiceName;
}

function open(service: ServiceName): Promise<Database> {
  const url = process.env[`${service.toUpperCase()}_DATABASE_URL`];
  if (url !== undefined && url !== "") return openDatabase({ url });
  return openDatabase({ dataDir: `${process.env.DATA_DIR ?? ".data"}/${service}` });
}

const json = (value: unknown) => JSON.stringify(value, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? `<${v.length} bytes>` : v), 2);

async function run(args: string[]): Promise<void> {
  const [command, first, second] = args;
  if (command === "saga" && first !== undefined) {
    const dbs = await Promise.all(services.map(open));
    try {
      const [orders, inventory, payments] = dbs as [Database, Database, Database];
      console.log(json(await sagaView({ orders: orders.db, inventory: inventory.db, payments: payments.db }, first)));
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
    }
    return;
  }
  if (command === "dead-letters") {
    const database = await open(serviceArg(first));
    try {
      console.log(json(await pendingDeadLetters(database.db)));
    } finally {
      await database.close();
    }
    return;
  }
  if (command === "replay" && second !== undefined && Number.isInteger(Number(second))) {
    const database = await open(serviceArg(first));
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
