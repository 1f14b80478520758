// Writes a development CA and one certificate per service into .certs/ (or the directory given
// as the first argument): `npm run certs`. For development and the demo only.
import { writeDevCertificates } from "@protomesh/server/pki";

const services = ["orders", "inventory", "payments", "gateway"];
const dir = process.argv[2] ?? ".certs";
await writeDevCertificates(dir, { trustDomain: "shop", names: services });
console.log(`wrote ca.crt and ${services.map((s) => `${s}.crt`).join(", ")} (with keys) to ${dir}/`);
