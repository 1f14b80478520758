// ESM loader hooks (run on the loader's own thread): append each loaded module's URL to a file.
// Synchronous appends, so the list is complete when the import that loaded them settles.
import { appendFileSync } from "node:fs";
import type { LoadHook } from "node:module";

let file = "";

export function initialize(data: { file: string }): void {
  file = data.file;
}

export const load: LoadHook = (url, context, nextLoad) => {
  appendFileSync(file, `${url}\n`);
  return nextLoad(url, context);
};
