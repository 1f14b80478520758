import { isIP } from "node:net";

/** One network endpoint of a service, as a resolver reports it. */
export interface Address {
  readonly host: string;
  readonly port: number;
  /** The weighted subset it belongs to (see WeightedResolver); absent: calls are spread over all addresses alike. */
  readonly subset?: Subset | undefined;
}

/**
 * A named group of addresses, such as the stable and the canary replicas of a service, that
 * receives `weight` parts of the calls, whatever its number of addresses. Weight 0 takes calls
 * only when no subset with a positive weight has an endpoint available.
 */
export interface Subset {
  readonly name: string;
  readonly weight: number;
}

/** "host:port", with IPv6 literals in brackets: the key endpoints are known by in events and maps. */
export function addressKey(address: Address): string {
  return isIP(address.host) === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** Parses "host:port" or "[v6]:port"; the port is required, since a service has no default one. */
export function parseAddress(text: string): Address {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(`invalid address "${text}": expected host:port`);
  }
  return { host, port };
}
