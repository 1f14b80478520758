// TLS for the Connect transport: certificates from files with live reload, the verified peer
// identity of each call, and a per-service or per-method allow-list of callers.
export { loadServerTls, type ServerTls, type ServerTlsOptions } from "./server-tls.js";
export { peerIdentity, peerIdentityKey, peerIdentityOf, type PeerIdentity, type PeerIdentityOptions } from "./peer-identity.js";
export { createAllowListInterceptor, unknownAllowListKeys, type AllowList } from "./allow-list.js";
// Development PKI: tests, `npm run certs` and the demo. Never for real traffic.
export {
  createCertificateAuthority,
  type CaOptions,
  type CertificateAuthority,
  type LeafOptions,
  type PemPair,
} from "./pki.js";
export { writeDevCertificates } from "./dev-certificates.js";
