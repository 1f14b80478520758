// Writes contracts/golden/<message type>.binpb and .json from contracts/golden-fixtures.ts.
// Called by `npm run contracts:release`; the files are then committed and never regenerated
// until the next release.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { toBinary, toJsonString } from "@bufbuild/protobuf";
import { goldenFixtures } from "./golden-fixtures.js";

const goldenDir = join(dirname(fileURLToPath(import.meta.url)), "golden");
rmSync(goldenDir, { recursive: true, force: true });
mkdirSync(goldenDir, { recursive: true });
for (const { schema, message } of goldenFixtures) {
  writeFileSync(join(goldenDir, `${schema.typeName}.binpb`), toBinary(schema, message));
  writeFileSync(join(goldenDir, `${schema.typeName}.json`), `${toJsonString(schema, message, { prettySpaces: 2 })}\n`);
}
console.log(`wrote ${goldenFixtures.length} golden messages to ${goldenDir}`);
