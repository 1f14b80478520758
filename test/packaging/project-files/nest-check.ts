// Written into the Nest projects as src/check.ts: runs the guide's replicas and client, and
// prints what it saw as one JSON line for the packaging test to assert on. It also republishes
// one stored event under a new message id, as a relay does after JetStream's duplicate window,
// so the handler sees a real redelivery.
import { eq } from "drizzle-orm";
import { Code, ConnectError } from "@connectrpc/connect";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { closeClient, createClient } from "@protomesh/clients";
import { openDatabase } from "@protomesh/data";
import { defaultDurableName, toOutgoingMessage } from "@protomesh/messaging";
import { createJetStreamBus } from "@protomesh/messaging/jetstream";
import { writeCertificates } from "./certs.js";
import { config, greetedSubject } from "./config.js";
import { GreeterService } from "./gen/greeter/v1/greeter_pb.js";
import { createGreeterClient } from "./greeter.client.js";
import { startReplica } from "./replica.js";
import { greetingsSeen, inbox, outbox } from "./schema.js";

const names = ["Ada", "Grace", "Edsger", "Barbara"];

async function waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last seen ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main() {
  await writeCertificates(config.certsDir);
  const replicas = [await startReplica("greeter-1", 0), await startReplica("greeter-2", 0)];
  const addresses = replicas.map((replica) => replica.address);
  const client = createGreeterClient(addresses, config.certsDir);
  const answers = [];
  for (const name of names) answers.push(await client.greet({ name }));
  closeClient(client);

  // The greeter's own certificate is valid but not on the allow-list.
  const stranger = createClient(GreeterService, {
    target: addresses,
    tls: { caFile: `${config.certsDir}/ca.crt`, certFile: `${config.certsDir}/greeter.crt`, keyFile: `${config.certsDir}/greeter.key`, serverName: "greeter" },
    retry: { maxAttempts: 1 },
  });
  const strangerCode = await stranger.greet({ name: "Mallory" }).then(
    () => "OK",
    (error: unknown) => Code[ConnectError.from(error).code],
  );
  closeClient(stranger);

  const database = await openDatabase({ url: config.databaseUrl });
  const nats = await connect({ servers: config.natsUrl });
  const jsm = await jetstreamManager(nats);
  const durable = defaultDurableName("greeter", greetedSubject);
  const seenBefore = await waitFor("every greeting handled", () => database.db.select().from(greetingsSeen), (rows) => rows.length === names.length);
  await waitFor("every delivery acked", () => jsm.consumers.info(config.stream, durable), (info) => info.delivered.consumer_seq === names.length && info.num_ack_pending === 0);

  const [stored] = await database.db.select().from(outbox).where(eq(outbox.aggregateId, seenBefore[0]!.eventId));
  const bus = await createJetStreamBus(nats);
  const republished = await bus.publish({ ...toOutgoingMessage(stored!), messageId: `${stored!.eventId}-republished` });
  const consumer = await waitFor(
    "the republished event acked",
    () => jsm.consumers.info(config.stream, durable),
    (info) => info.delivered.consumer_seq === names.length + 1 && info.num_ack_pending === 0 && info.num_pending === 0,
  );
  const seen = await database.db.select().from(greetingsSeen);
  const inboxRows = await database.db.select().from(inbox);

  console.log(
    JSON.stringify({
      answers: answers.map(({ greeting, replica, caller }) => ({ greeting, replica, caller })),
      strangerCode,
      republishedDuplicate: republished.duplicate,
      deliveries: consumer.delivered.consumer_seq,
      seen: seen.map(({ name, deliveries }) => ({ name, deliveries })),
      inbox: inboxRows.length,
    }),
  );
  await bus.close();
  await nats.close();
  await database.close();
  for (const replica of replicas) await replica.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
