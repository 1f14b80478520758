// Writes a development CA and one certificate per name into a directory: what `npm run certs`
// and the demo use. Each certificate carries the SPIFFE-style URI SAN spiffe://shop/<name>
// that allow-lists name, and serves as both server and client certificate. The CA key sits
// next to the certificates: for development only.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createCertificateAuthority } from "./pki.js";

export async function writeDevCertificates(dir: string, names: readonly string[]): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = await createCertificateAuthority({ commonName: "protomesh dev CA" });
  await writeFile(join(dir, "ca.key"), ca.key, { mode: 0o600 });
  for (const name of names) {
    const pair = await ca.issue({ commonName: name, uris: [`spiffe://shop/${name}`], dnsNames: ["localhost", name] });
    await writeFile(join(dir, `${name}.crt`), pair.cert);
    await writeFile(join(dir, `${name}.key`), pair.key, { mode: 0o600 });
  }
  // Written last: its presence means the set is complete.
  await writeFile(join(dir, "ca.crt"), ca.cert);
}
