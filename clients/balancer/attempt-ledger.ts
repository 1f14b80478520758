/**
 * Header that carries a ledger id from the retry interceptor to the balancer, which removes it
 * before the request leaves: Connect's HTTP client passes a session manager only method, path
 * and headers, so a header is the one way to say which endpoints a call already tried.
 */
export const ATTEMPT_HEADER = "protomesh-attempt";

/** The endpoints ("host:port") a call's earlier attempts went to, oldest first. */
export interface AttemptRecord {
  readonly tried: string[];
}

/** Open records of calls that may be retried; the retry interceptor opens and closes them. */
export class AttemptLedger {
  private nextId = 0;
  private readonly records = new Map<string, AttemptRecord>();

  open(): [id: string, record: AttemptRecord] {
    const id = String(this.nextId++);
    const record: AttemptRecord = { tried: [] };
    this.records.set(id, record);
    return [id, record];
  }

  get(id: string): AttemptRecord | undefined {
    return this.records.get(id);
  }

  close(id: string): void {
    this.records.delete(id);
  }
}
