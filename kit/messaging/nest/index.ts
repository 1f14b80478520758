// @protomesh/messaging/nest: the Nest event transport. It runs on any EventBus (ADR 0056), so one
// set of @OnEvent handlers serves JetStream and Redis Streams alike.
export { EventTransport, type EventTransportOptions } from "./event-transport.js";
export { EventContext } from "./event-context.js";
export { EventErrorFilter } from "./event-error-filter.js";
export { OnEvent, EVENT_TRANSPORT, type OnEventOptions } from "./on-event.js";
export {
  ProtomeshMessagingModule,
  InjectDatabase,
  type ProtomeshMessagingOptions,
  type ProtomeshMessagingModuleOptions,
  type ProtomeshMessagingModuleAsyncOptions,
  type JetStreamConnectionOptions,
} from "./messaging-module.js";
export { Outbox } from "./outbox.js";
export { MESSAGING_DATABASE, OUTBOX_RELAY, DEAD_LETTERS } from "./tokens.js";
