/** An error's message for logs, dead letters and health reasons, whatever was thrown. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  const message = (err as { message?: unknown } | null)?.message;
  if (typeof message === "string") return message;
  return typeof err === "string" ? err : (JSON.stringify(err) ?? "unknown error");
}
