import type { Pickable, Picker } from "./picker.js";

/**
 * Power of two choices: draws two DISTINCT candidates at random and takes the cheaper by
 * peak-EWMA latency × (outstanding + 1). Independent draws would pick the same (possibly stalled)
 * endpoint twice 1/n of the time and send it calls blindly.
 */
export class P2cPicker implements Picker {
  constructor(private readonly random: () => number = Math.random) {}

  pick<T extends Pickable>(candidates: readonly T[], now: number): T {
    const n = candidates.length;
    if (n === 1) {
      return candidates[0] as T;
    }
    const i = Math.floor(this.random() * n);
    // A second index drawn from the n - 1 others, so the two are always distinct.
    const j = (i + 1 + Math.floor(this.random() * (n - 1))) % n;
    const a = candidates[i] as T;
    const b = candidates[j] as T;
    return b.load.cost(now) < a.load.cost(now) ? b : a;
  }
}
