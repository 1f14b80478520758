// One reference service (orders, inventory or payments) through the same host as production
// (runService), in a process of its own, configured by the environment the parent passes.
// Answers {type: "sample"} with cumulative CPU µs, RSS, GC time and the SQL it sent.
//   shop-service.ts <orders|inventory|payments> '<environment as JSON>'
// (the variables services/serve.ts would read, e.g. {"PORT": "50051", "DATABASE_URL": ...})
import { runService } from "../../services/host/run-service.js";
import { loadInventoryConfig } from "../../services/inventory/config.js";
import { inventoryService } from "../../services/inventory/service.js";
import { loadOrdersConfig } from "../../services/orders/config.js";
import { ordersService } from "../../services/orders/service.js";
import { loadPaymentsConfig } from "../../services/payments/config.js";
import { paymentsService } from "../../services/payments/service.js";
import { serveParent } from "../harness/children.js";
import { gcTotals } from "../harness/gc-time.js";
import { countQueries, queryTotals } from "../harness/query-count.js";

// Before the service opens its pool, so every connection's queries are counted.
countQueries();

const [service, environment = "{}"] = process.argv.slice(2);
const vars = { ...process.env, ...(JSON.parse(environment) as Record<string, string>) };
const definition =
  service === "orders"
    ? ordersService(loadOrdersConfig(vars))
    : service === "inventory"
      ? inventoryService(loadInventoryConfig(vars))
      : service === "payments"
        ? paymentsService(loadPaymentsConfig(vars))
        : undefined;
if (definition === undefined) throw new Error(`unknown service ${service}; expected orders, inventory or payments`);
await runService(definition);

serveParent(() => {
  const usage = process.cpuUsage();
  return { cpuUs: usage.user + usage.system, rss: process.memoryUsage.rss(), calls: 0, ...gcTotals(), queries: queryTotals() };
});
process.send?.({ type: "ready" });
