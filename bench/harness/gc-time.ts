// Garbage collection in this process since the module was loaded, from V8's GC performance
// entries: pause time (wall clock, so it includes time the thread was descheduled on a busy
// host) and the number of collections of each kind (which a busy host does not change).
import { constants, type PerformanceEntry, PerformanceObserver } from "node:perf_hooks";

export interface GcTotals {
  /** Milliseconds spent in GC pauses. */
  gcMs: number;
  /** Young-generation collections (scavenges). */
  minorGcs: number;
  /** Full mark-compact collections. */
  majorGcs: number;
}

const totals: GcTotals = { gcMs: 0, minorGcs: 0, majorGcs: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    totals.gcMs += entry.duration;
    const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) totals.minorGcs++;
    else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) totals.majorGcs++;
  }
}).observe({ entryTypes: ["gc"] });

/** A copy of the totals so far. */
export const gcTotals = (): GcTotals => ({ ...totals });
