import type { TLSSocket } from "node:tls";
import { createContextKey, type ContextValues } from "@connectrpc/connect";

/** Who is calling, as proven by a client certificate that chained to our CA. */
export interface PeerIdentity {
  /**
   * The first URI SAN (a SPIFFE ID such as `spiffe://example.org/api`); the subject CN only for a
   * certificate without URI SANs on a server that opted in (ServerTlsOptions.identityFromCommonName).
   */
  readonly id: string;
  readonly uris: readonly string[];
  readonly commonName: string | undefined;
  /** SHA-256 fingerprint of the certificate, for logs and pinning. */
  readonly fingerprint256: string;
}

/** Where the transport puts the verified peer of each call; undefined without mTLS. */
export const peerIdentityKey = createContextKey<PeerIdentity | undefined>(undefined, {
  description: "verified TLS peer identity",
});

/** The verified peer of a call, from a HandlerContext or an interceptor request. */
export function peerIdentity(call: { readonly values?: ContextValues; readonly contextValues?: ContextValues }): PeerIdentity | undefined {
  return (call.values ?? call.contextValues)?.get(peerIdentityKey);
}

export interface PeerIdentityOptions {
  /** Fall back to the subject CN when the certificate has no URI SAN. Default: false. */
  identityFromCommonName?: boolean;
}

// A URI starts with a scheme; a CN that does is refused as an identity, so a CN can never
// name a peer that URI SANs name.
const uriScheme = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/**
 * Reads the identity from a socket whose client certificate was verified, else undefined: from
 * its URI SANs only, as SPIFFE prescribes, unless `identityFromCommonName` allows the CN.
 */
export function peerIdentityOf(socket: TLSSocket, options: PeerIdentityOptions = {}): PeerIdentity | undefined {
  if (!socket.authorized) {
    return undefined;
  }
  const cert = socket.getPeerCertificate();
  // Without a client certificate Node returns an empty object.
  if (!("raw" in cert)) {
    return undefined;
  }
  const uris = parseSubjectAltNames(cert.subjectaltname ?? "")
    .filter(([kind]) => kind === "URI")
    .map(([, value]) => value);
  const cn: string | string[] | undefined = cert.subject.CN;
  const commonName = Array.isArray(cn) ? cn[0] : cn;
  const fromCommonName = options.identityFromCommonName === true && commonName !== undefined && !uriScheme.test(commonName) ? commonName : undefined;
  const id = uris[0] ?? fromCommonName;
  if (id === undefined) {
    return undefined;
  }
  return { id, uris, commonName, fingerprint256: cert.fingerprint256 };
}

/**
 * Splits Node's `subjectaltname` ("DNS:a, URI:spiffe://x, IP Address:1.2.3.4"). Node quotes a
 * value as a JSON string when it contains a comma or quote, so a SAN cannot smuggle a second one.
 */
export function parseSubjectAltNames(text: string): Array<[string, string]> {
  const entries: Array<[string, string]> = [];
  for (const match of text.matchAll(/(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const [, kind, raw] = match;
    if (kind === undefined || raw === undefined) {
      continue;
    }
    entries.push([kind, raw.startsWith('"') ? (JSON.parse(raw) as string) : raw]);
  }
  return entries;
}
