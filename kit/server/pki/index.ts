// @protomesh/server/pki: a development PKI for tests, local runs and demos. Never for real
// traffic. Needs the optional peer dependency @peculiar/x509.
export {
  createCertificateAuthority,
  type CaOptions,
  type CertificateAuthority,
  type LeafOptions,
  type PemPair,
} from "./pki.js";
export { writeDevCertificates, type DevCertificateOptions } from "./dev-certificates.js";
