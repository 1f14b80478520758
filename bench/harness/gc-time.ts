// Milliseconds this process has spent in garbage collection since the module was loaded,
// from V8's GC performance entries.
import { PerformanceObserver } from "node:perf_hooks";

let total = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) total += entry.duration;
}).observe({ entryTypes: ["gc"] });

export const gcTimeMs = (): number => total;
