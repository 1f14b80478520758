// `npm run serve -- <orders|inventory|payments>`: runs one service, configured by environment
// variables (see docs/operations.md), until SIGTERM.
import { useFastUtf8Encoding } from "@protomesh/server";
import { main, type ServiceDefinition } from "./host/run-service.js";

// Only the service asked for is loaded: another's modules would lengthen every start (ADR 0144).
const services: Record<string, () => Promise<() => ServiceDefinition>> = {
  orders: async () => (await import("./orders/service.js")).ordersService,
  inventory: async () => (await import("./inventory/service.js")).inventoryService,
  payments: async () => (await import("./payments/service.js")).paymentsService,
};

const name = process.argv[2] ?? "";
const load = services[name];
if (load === undefined) {
  console.error(`usage: npm run serve -- <${Object.keys(services).join("|")}>${name === "" ? "" : ` (got "${name}")`}`);
  process.exit(2);
}
// The shop's processes are its own: protobuf-es may encode strings the faster way in all of them.
useFastUtf8Encoding();
// main() reads the configuration, so a bad variable is reported as one line there.
await main(await load());
