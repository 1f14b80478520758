// Where orders sends its inventory calls: INVENTORY_TARGET, or during a canary release a
// WeightedResolver over the stable and canary targets whose shares follow the weights file, so
// promotion and rollback are an edit of the file (a mounted ConfigMap), not a restart.
import { type ClientOptions, resolverForTarget, watchWeightsFile, WeightedResolver } from "@protomesh/clients";
import type { OrdersConfig } from "./config.js";

export interface InventoryTarget {
  target: ClientOptions["target"];
  /** Stops following the weights file. */
  stop(): void;
}

/** A single "host:port" as a string (resolved through DNS when it is a name), else the static list. */
export const oneOrList = (targets: readonly string[]): string | readonly string[] => (targets.length === 1 ? (targets[0] as string) : targets);

export function inventoryTarget(inventory: Pick<OrdersConfig["inventory"], "target" | "canary">, onWeights?: (weights: Record<string, number>) => void): InventoryTarget {
  const { canary } = inventory;
  if (canary === undefined) return { target: oneOrList(inventory.target), stop: () => undefined };
  // The file sets both weights at once; these hold only until it is read, just below.
  const resolver = new WeightedResolver([
    { name: "stable", weight: 100, resolver: resolverForTarget(inventory.target) },
    { name: "canary", weight: 0, resolver: resolverForTarget(canary.target) },
  ]);
  const stop = watchWeightsFile(resolver, canary.weightsFile, onWeights === undefined ? {} : { onChange: onWeights });
  return { target: resolver, stop };
}
