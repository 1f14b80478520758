// Kept for the command ADR 24 and docs/clients.md cite: runs the `client` benchmark
// (bench/client.ts), which measures each client in its own process against grpc-js replicas.
//
//   npx tsx bench/client-cpu.ts [--warmup 5] [--seconds 10] [--concurrency 64]
import { spawnSync } from "node:child_process";

const main = new URL("./main.ts", import.meta.url).pathname;
const { status } = spawnSync(process.execPath, ["--conditions=source", "--import", "tsx", main, "client", ...process.argv.slice(2)], { stdio: "inherit" });
process.exit(status ?? 1);
