// node --import ./record-modules.js: records the URL of every ES module and CommonJS entry that
// the ESM loader loads into the file named by FOOTPRINT_MODULES_FILE (module-hooks.js).
import { register } from "node:module";

const file = process.env["FOOTPRINT_MODULES_FILE"];
if (file === undefined) throw new Error("FOOTPRINT_MODULES_FILE must name the file to record loaded modules in");
register("./module-hooks.js", import.meta.url, { data: { file } });
