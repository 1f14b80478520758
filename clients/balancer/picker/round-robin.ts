import type { Pickable, Picker } from "./picker.js";

/** Takes the candidates in turn (gRPC core: round_robin). Starts at a random offset so clients started together do not march in step. */
export class RoundRobinPicker implements Picker {
  private next = Math.floor(Math.random() * 1024);

  pick<T extends Pickable>(candidates: readonly T[]): T {
    this.next = (this.next + 1) % 1_000_000_007;
    return candidates[this.next % candidates.length] as T;
  }
}
