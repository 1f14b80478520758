import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { peerIdentity } from "./peer-identity.js";

/**
 * Caller identities (peer ids, see PeerIdentity.id) allowed per service, keyed by its full name
 * (`acme.items.v1.ItemService`), or per method (`acme.items.v1.ItemService/DeleteItem`).
 * A method entry replaces its service's entry. Services and methods not named are not
 * restricted by the list (mTLS still decides who may connect at all).
 */
export type AllowList = Readonly<Record<string, readonly string[]>>;

/**
 * Refuses calls whose peer is not allowed: no verified peer -> Unauthenticated, a peer not on
 * the list -> PermissionDenied. Runs before validation, so strangers learn nothing about
 * request rules.
 */
export function createAllowListInterceptor(allow: AllowList): Interceptor {
  const rules = new Map(Object.entries(allow).map(([key, ids]) => [key, new Set(ids)]));
  return (next) => async (req) => {
    const allowed = rules.get(`${req.service.typeName}/${req.method.name}`) ?? rules.get(req.service.typeName);
    if (allowed !== undefined) {
      const peer = peerIdentity(req);
      if (peer === undefined) {
        throw new ConnectError(`${req.method.name} needs a client certificate from the trusted CA whose URI SAN names the caller`, Code.Unauthenticated);
      }
      if (!allowed.has(peer.id)) {
        throw new ConnectError(`${peer.id} may not call ${req.method.name}`, Code.PermissionDenied);
      }
    }
    return next(req);
  };
}

/** Names in the list that match no served service or method: typos would silently allow. */
export function unknownAllowListKeys(allow: AllowList, procedures: ReadonlySet<string>): string[] {
  return Object.keys(allow).filter((key) => !procedures.has(key));
}
