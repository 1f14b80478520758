// Writes a development CA and one certificate per name into a directory, for tests, local runs
// and demos. Each certificate carries the SPIFFE-style URI SAN spiffe://<trustDomain>/<name>
// that allow-lists name, and serves as both server and client certificate. The CA key sits next
// to the certificates: for development only.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createCertificateAuthority } from "./pki.js";

export interface DevCertificateOptions {
  /** The SPIFFE trust domain of every identity, e.g. "acme.internal" gives spiffe://acme.internal/<name>. */
  readonly trustDomain: string;
  /** One certificate per name: the workload part of its SPIFFE ID, its CN and a DNS name. */
  readonly names: readonly string[];
}

export async function writeDevCertificates(dir: string, options: DevCertificateOptions): Promise<void> {
  const { trustDomain, names } = options;
  if (!/^[a-z0-9.-]+$/.test(trustDomain)) {
    throw new Error(`trust domain "${trustDomain}" is not a SPIFFE trust domain: use lower-case letters, digits, "." and "-"`);
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = await createCertificateAuthority({ commonName: "protomesh dev CA" });
  await writeFile(join(dir, "ca.key"), ca.key, { mode: 0o600 });
  for (const name of names) {
    const pair = await ca.issue({ commonName: name, uris: [`spiffe://${trustDomain}/${name}`], dnsNames: ["localhost", name] });
    await writeFile(join(dir, `${name}.crt`), pair.cert);
    await writeFile(join(dir, `${name}.key`), pair.key, { mode: 0o600 });
  }
  // Written last: its presence means the set is complete.
  await writeFile(join(dir, "ca.crt"), ca.cert);
}
