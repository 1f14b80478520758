// Tokens of the providers ProtomeshMessagingModule exports. Symbol.for, so two copies of the
// package in one app still agree, and readable in Nest's "can't resolve dependencies" message.

/** The service's `Database` (`@protomesh/data`); inject with `@InjectDatabase()`. */
export const MESSAGING_DATABASE: unique symbol = Symbol.for("@protomesh/messaging/nest database");
/** The service's `OutboxRelay`, started at bootstrap and stopped at shutdown. */
export const OUTBOX_RELAY: unique symbol = Symbol.for("@protomesh/messaging/nest outbox relay");
/** The service's `DeadLetterStore`: list and replay what its handlers could not take. */
export const DEAD_LETTERS: unique symbol = Symbol.for("@protomesh/messaging/nest dead letters");
