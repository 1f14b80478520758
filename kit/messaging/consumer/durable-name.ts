/**
 * The durable consumer name `EventTransport` gives a handler that names none: `<service>_<subject>`,
 * dots and wildcards as underscores, shared by every replica. It is the handler's inbox key too,
 * so changing it (or the service name) makes a new consumer that applies the stream afresh.
 */
export function defaultDurableName(service: string, subject: string): string {
  return `${service}_${subject.replace(/[.*>]/g, "_")}`;
}
