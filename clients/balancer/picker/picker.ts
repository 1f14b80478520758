/** What a picker sees of an endpoint. */
export interface Pickable {
  readonly key: string;
  readonly load: { cost(now: number): number };
}

/**
 * Chooses the endpoint for one call attempt among the candidates the balancer allows (admitted,
 * not avoided by a retry; never empty). Runs on every call: keep it allocation-free.
 */
export interface Picker {
  pick<T extends Pickable>(candidates: readonly T[], now: number): T;
}

/** The built-in strategies, by name. */
export type PickerName = "pick-first" | "round-robin" | "p2c";
