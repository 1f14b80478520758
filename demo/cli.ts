// What the demo's, the rehearsal's and the soak's command lines share.

/** A numeric option within [min, max]; anything else is refused with a message naming the option. */
export function boundedNumber(name: string, value: string | undefined, min: number, max: number): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < min || parsed > max) throw new Error(`--${name} must be a number from ${min} to ${max}, got ${value}`);
  return parsed;
}
