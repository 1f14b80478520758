// A small certificate authority for development, tests and the demo: a CA and leaf
// certificates with the SANs our services identify each other by (SPIFFE-style URI SANs).
// Production certificates come from a real issuer (cert-manager, Vault …); nothing here is
// meant to protect real traffic. ECDSA P-256 keeps generation fast (milliseconds).
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect polyfill.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto);

const signingAlgorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

/** PEM-encoded certificate and PKCS#8 private key. */
export interface PemPair {
  cert: string;
  key: string;
}

export interface CertificateAuthority extends PemPair {
  /** Issues a leaf certificate signed by this CA. */
  issue(options: LeafOptions): Promise<PemPair>;
}

export interface LeafOptions {
  /** Subject common name, for example "api". */
  commonName: string;
  /** URI SANs, for example ["spiffe://example.org/api"]: the identity peers authorize. */
  uris?: string[];
  /** DNS SANs. Default: ["localhost"]. */
  dnsNames?: string[];
  /** IP SANs. Default: ["127.0.0.1", "::1"]. */
  ipAddresses?: string[];
  /** What the key may authenticate. Default: both, so one certificate serves as server and client. */
  extendedKeyUsages?: Array<"serverAuth" | "clientAuth">;
  /** Default: one hour ago, so clocks a little apart still accept the certificate. */
  notBefore?: Date;
  /** Default: 365 days from now. A date in the past makes an expired certificate. */
  notAfter?: Date;
}

export interface CaOptions {
  /** Default: "protomesh dev CA". */
  commonName?: string;
  /** Default: 10 years from now. */
  notAfter?: Date;
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(signingAlgorithm, true, ["sign", "verify"]);
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

function randomSerial(): string {
  // Positive: the top bit of the first byte stays clear.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString("hex");
}

/** Creates a new self-signed CA whose key stays in memory. */
export async function createCertificateAuthority(options: CaOptions = {}): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${options.commonName ?? "protomesh dev CA"}`,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: options.notAfter ?? new Date(Date.now() + 3650 * DAY_MS),
    signingAlgorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });

  return {
    cert: caCert.toString("pem"),
    key: await privateKeyPem(keys.privateKey),
    async issue(leaf) {
      const leafKeys = await generateKeys();
      const names: x509.JsonGeneralName[] = [
        ...(leaf.dnsNames ?? ["localhost"]).map((value) => ({ type: "dns" as const, value })),
        ...(leaf.ipAddresses ?? ["127.0.0.1", "::1"]).map((value) => ({ type: "ip" as const, value })),
        ...(leaf.uris ?? []).map((value) => ({ type: "url" as const, value })),
      ];
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: randomSerial(),
        subject: `CN=${leaf.commonName}`,
        issuer: caCert.subject,
        notBefore: leaf.notBefore ?? new Date(Date.now() - 60 * 60 * 1000),
        notAfter: leaf.notAfter ?? new Date(Date.now() + 365 * DAY_MS),
        signingAlgorithm,
        publicKey: leafKeys.publicKey,
        signingKey: keys.privateKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension((leaf.extendedKeyUsages ?? ["serverAuth", "clientAuth"]).map((usage) => x509.ExtendedKeyUsage[usage])),
          new x509.SubjectAlternativeNameExtension(names),
          await x509.AuthorityKeyIdentifierExtension.create(caCert),
        ],
      });
      return { cert: cert.toString("pem"), key: await privateKeyPem(leafKeys.privateKey) };
    },
  };
}
