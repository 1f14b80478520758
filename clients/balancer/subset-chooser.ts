import type { Subset } from "./address.js";

/** What the chooser sees of an endpoint. */
export interface InSubset {
  readonly subset: Subset | undefined;
}

/**
 * Narrows a call's candidates to one weighted subset, chosen by smooth weighted round-robin
 * among the subsets that have a candidate now (nginx's algorithm; gRPC's weighted_target picks
 * a child by weight too, at random): every run of calls gives each subset its weight's share
 * within a few calls, evenly interleaved, independent of how many endpoints it has and of their
 * latency. The configured picker then balances within the subset. A subset without candidates
 * (ejected, not serving) drops out, and its share goes to the others in proportion.
 * Runs on every call: allocation-free once every subset has been seen.
 */
export class SubsetChooser {
  private readonly state = new Map<string, { current: number; seen: number }>();
  private round = 0;

  /** Keeps in `candidates` (in place) only those of the chosen subset; leaves them all when none carries a subset. */
  narrow<T extends InSubset>(candidates: T[]): void {
    const round = ++this.round;
    let total = 0;
    let chosen: string | undefined;
    let best = Number.NEGATIVE_INFINITY;
    for (const candidate of candidates) {
      const subset = candidate.subset;
      if (subset === undefined || subset.weight <= 0) {
        continue;
      }
      let entry = this.state.get(subset.name);
      if (entry === undefined) {
        entry = { current: 0, seen: 0 };
        this.state.set(subset.name, entry);
      }
      if (entry.seen === round) {
        continue;
      }
      entry.seen = round;
      entry.current += subset.weight;
      total += subset.weight;
      if (entry.current > best) {
        best = entry.current;
        chosen = subset.name;
      }
    }
    for (const [name, entry] of this.state) {
      if (name === chosen) {
        entry.current -= total;
      } else if (entry.seen !== round) {
        // Absent this time: it starts afresh when it comes back, rather than with a stored debt.
        entry.current = 0;
      }
    }
    if (chosen === undefined) {
      return;
    }
    let kept = 0;
    for (const candidate of candidates) {
      if (candidate.subset?.name === chosen) {
        candidates[kept++] = candidate;
      }
    }
    candidates.length = kept;
  }
}
