import type { Code } from "@connectrpc/connect";

/** Why an endpoint stopped receiving calls. */
export type EjectionReason =
  /** Its connection failed or dropped; it comes back when a reconnect succeeds. */
  | "connection-failed"
  /** Passive outlier detection saw consecutive failures (its circuit opened). */
  | "consecutive-failures"
  /** Its grpc.health.v1 check reported NOT_SERVING or SERVICE_UNKNOWN. */
  | "not-serving"
  /** Its grpc.health.v1 check got no answer within the check's timeout (a frozen process). */
  | "unresponsive";

/**
 * Every state change of a client, for telemetry to hook into. `address` is an endpoint's
 * "host:port"; `key` names a circuit ("acme.items.v1.ItemService/GetItem").
 */
export type ClientEvent =
  | { type: "endpoint-added"; address: string }
  | { type: "endpoint-removed"; address: string }
  | { type: "endpoint-ejected"; address: string; reason: EjectionReason; durationMs?: number }
  | { type: "endpoint-readmitted"; address: string }
  | { type: "circuit-opened"; key: string; durationMs: number }
  | { type: "circuit-half-open"; key: string }
  | { type: "circuit-closed"; key: string }
  | { type: "retry"; method: string; attempt: number; delayMs: number; code: Code }
  | { type: "retry-budget-exhausted"; method: string }
  | { type: "resolver-error"; error: unknown }
  | { type: "tls-reloaded" }
  | { type: "tls-reload-failed"; error: unknown };

export type ClientEventListener = (event: ClientEvent) => void;

/** Fans events out to listeners. A throwing listener must not break a call, so it becomes a warning. */
export class ClientEvents {
  private readonly listeners = new Set<ClientEventListener>();

  /** Adds a listener; returns the function that removes it. */
  on(listener: ClientEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: ClientEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        process.emitWarning(`protomesh client event listener threw on ${event.type}: ${String(error)}`);
      }
    }
  }
}
