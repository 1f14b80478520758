// Writes a development CA and one certificate per service into .certs/ (or the directory given
// as the first argument): `npm run certs`. Each service certificate carries the SPIFFE-style
// URI SAN (spiffe://shop/<name>) that allow-lists name, and serves as server and client cert.
// For development and the demo only; the CA key sits next to the certificates.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createCertificateAuthority } from "protomesh/kit/tls";

const services = ["orders", "inventory", "payments", "gateway"];
const dir = process.argv[2] ?? ".certs";

await mkdir(dir, { recursive: true, mode: 0o700 });
const ca = await createCertificateAuthority({ commonName: "protomesh dev CA" });
await writeFile(join(dir, "ca.crt"), ca.cert);
await writeFile(join(dir, "ca.key"), ca.key, { mode: 0o600 });
for (const name of services) {
  const pair = await ca.issue({
    commonName: name,
    uris: [`spiffe://shop/${name}`],
    dnsNames: ["localhost", name],
  });
  await writeFile(join(dir, `${name}.crt`), pair.cert);
  await writeFile(join(dir, `${name}.key`), pair.key, { mode: 0o600 });
}
console.log(`wrote ca.crt and ${services.map((s) => `${s}.crt`).join(", ")} (with keys) to ${dir}/`);
