import { randomBytes } from "node:crypto";
import { createJetStreamBus } from "@protomesh/messaging/jetstream";
import { createMemoryBroker } from "@protomesh/messaging";
import { streamJanitor, uniqueName } from "../helpers/index.js";
import { eventBusContract } from "./event-bus.contract.js";
import { redisStreamsHarness } from "./redis-streams-harness.js";

const broker = createMemoryBroker();
eventBusContract({
  name: "in-memory fake",
  connect: () => {
    const bus = broker.connect();
    return Promise.resolve({ bus, crash: () => Promise.resolve(bus.crash()) });
  },
  streamName: () => `MEM_${randomBytes(4).toString("hex")}`,
  cleanup: () => Promise.resolve(),
});

const janitor = streamJanitor();
eventBusContract({
  name: "NATS JetStream",
  connect: async () => {
    const nc = await janitor.connect();
    const bus = await createJetStreamBus(nc);
    return { bus, crash: () => nc.close() };
  },
  streamName: () => janitor.track(uniqueName("PMT_BUS")),
  cleanup: () => janitor.cleanup(),
});

eventBusContract(redisStreamsHarness());
