import type { Pickable, Picker } from "./picker.js";

/** Sends every call to one endpoint, the first in resolver order, and stays on it until it is no longer a candidate (gRPC core: pick_first). */
export class PickFirstPicker implements Picker {
  private current: string | undefined;

  pick<T extends Pickable>(candidates: readonly T[]): T {
    const sticky = candidates.find((c) => c.key === this.current);
    if (sticky !== undefined) {
      return sticky;
    }
    const first = candidates[0] as T;
    this.current = first.key;
    return first;
  }
}
