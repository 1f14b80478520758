// `node dist/deploy/probe/cli.js <orders|inventory|payments> <readiness|liveness>`: exit code 0
// when healthy, 1 when not (the reason goes to stderr, which the kubelet records in the event),
// 2 on a usage or configuration error.
import { probeHealth, probeTargetFromEnv } from "./health-probe.js";

const services = ["orders", "inventory", "payments"];
const [service = "", kind = ""] = process.argv.slice(2);
if (!services.includes(service) || (kind !== "readiness" && kind !== "liveness")) {
  console.error(`usage: health-probe <${services.join("|")}> <readiness|liveness>`);
  process.exit(2);
}
try {
  const result = await probeHealth(kind, probeTargetFromEnv(process.env));
  if (!result.healthy) {
    console.error(`${service} ${kind}: ${result.reason}`);
  }
  process.exitCode = result.healthy ? 0 : 1;
} catch (error) {
  console.error(`${service} ${kind}: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 2;
}
