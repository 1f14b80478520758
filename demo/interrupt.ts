// Ctrl-C (SIGINT) and SIGTERM as an AbortSignal, so that an interrupted run unwinds through its
// own clean-up (replicas stopped and awaited, databases dropped, NATS stopped) instead of the
// process exiting while a step is still starting something.
import { setMaxListeners } from "node:events";

/** Exit code of a run that was interrupted (128 + SIGINT, as a shell reports Ctrl-C). */
export const INTERRUPTED_EXIT_CODE = 130;

/** Aborts on the first SIGINT or SIGTERM; later ones are ignored, since the clean-up is bounded (replicas are killed after their grace). */
export function abortOnSignals(): AbortSignal {
  const controller = new AbortController();
  // Every call a run has in flight listens to it (a demo's driver: two per order, up to 512 orders at once).
  setMaxListeners(0, controller.signal);
  const interrupt = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) return;
    console.error(`\n${signal}: stopping what this run started`);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);
  return controller.signal;
}
