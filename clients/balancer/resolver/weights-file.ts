import { readFileSync, unwatchFile, watchFile } from "node:fs";
import type { WeightedResolver } from "./weighted.js";

export interface WeightsFileOptions {
  /** How often the file is checked. Default 10 s (a ConfigMap edit reaches a pod's volume within about a minute anyway). */
  intervalMs?: number;
  /** The new weights, each time the file changes them. */
  onChange?: (weights: Record<string, number>) => void;
  /** A changed file that cannot be read or that the resolver refuses; the previous weights stay. Default: a process warning. */
  onError?: (error: unknown) => void;
}

/**
 * Applies the weights in a JSON file (`{"stable": 90, "canary": 10}`, for example a mounted
 * ConfigMap) to a WeightedResolver now, and again whenever the file changes, so a canary is
 * promoted or rolled back by editing the file, without restarting clients. A bad file at start
 * throws; a bad change is reported and ignored. Returns a function that stops watching.
 */
export function watchWeightsFile(resolver: WeightedResolver, file: string, options: WeightsFileOptions = {}): () => void {
  resolver.setWeights(readWeights(file));
  const onError = options.onError ?? ((error: unknown) => process.emitWarning(`weights file ${file}: ${String(error)}`));
  const reload = (): void => {
    try {
      resolver.setWeights(readWeights(file));
      options.onChange?.(resolver.weights());
    } catch (error) {
      onError(error);
    }
  };
  // stat-based polling, like the TLS files: sees atomic replacement and Kubernetes' symlink swaps.
  watchFile(file, { interval: options.intervalMs ?? 10_000, persistent: false }, reload);
  return () => unwatchFile(file, reload);
}

function readWeights(file: string): Record<string, number> {
  const parsed: unknown = JSON.parse(readFileSync(file, "utf8"));
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((w) => typeof w !== "number")) {
    throw new TypeError(`${file}: expected an object of subset names to weights, like {"stable": 90, "canary": 10}`);
  }
  return parsed as Record<string, number>;
}
