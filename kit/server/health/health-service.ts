import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { type Health } from "@protomesh/clients/health";
import type { HealthRegistry } from "./health-registry.js";

/** grpc.health.v1.Health over a registry: Check, Watch (streams changes) and List. */
export function createHealthService(registry: HealthRegistry): ServiceImpl<typeof Health> {
  return {
    async check(req) {
      const status = await registry.status(req.service);
      if (status === undefined) {
        throw new ConnectError(`unknown service ${req.service}`, Code.NotFound);
      }
      return { status };
    },
    async *watch(req, ctx) {
      for await (const status of registry.watch(req.service, ctx.signal)) {
        yield { status };
      }
    },
    async list() {
      const names = registry.serviceNames;
      const statuses = await Promise.all(names.map((name) => registry.status(name)));
      return {
        statuses: Object.fromEntries(names.map((name, i) => [name, { status: statuses[i] ?? 0 }])),
      };
    },
  };
}
