// `npm run serve -- <orders|inventory|payments>`: runs one service, configured by environment
// variables (see docs/operations.md), until SIGTERM.
import { useFastUtf8Encoding } from "@protomesh/server";
import { main, type ServiceDefinition } from "./host/run-service.js";
import { inventoryService } from "./inventory/service.js";
import { ordersService } from "./orders/service.js";
import { paymentsService } from "./payments/service.js";

const services: Record<string, () => ServiceDefinition> = {
  orders: () => ordersService(),
  inventory: () => inventoryService(),
  payments: () => paymentsService(),
};

const name = process.argv[2] ?? "";
const definition = services[name];
if (definition === undefined) {
  console.error(`usage: npm run serve -- <${Object.keys(services).join("|")}>${name === "" ? "" : ` (got "${name}")`}`);
  process.exit(2);
}
// The shop's processes are its own: protobuf-es may encode strings the faster way in all of them.
useFastUtf8Encoding();
await main(definition);
