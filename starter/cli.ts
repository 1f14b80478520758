#!/usr/bin/env node
// create-protomesh: `npm create protomesh@<version> my-api` or `npx create-protomesh my-api`.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { createProject, isStarterError } from "./create-project.js";

const usage = `Usage: npm create protomesh <directory>   (or: npx create-protomesh <directory>)

Writes a new contract-first gRPC service repository into <directory> (created; it must be empty):
proto/ with one service and one event carrying protovalidate rules, buf.yaml and buf.gen.yaml,
the generated gen/, a contract gate (format, lint, breaking against contracts/baseline.binpb,
stale gen/), a NestJS service on the @protomesh packages with a Drizzle outbox, a typed client,
vitest contract tests, a CI script and a README.

Options:
  --name <name>   the package name (default: the directory's name)
  -h, --help      this text
  -v, --version   the starter's version`;

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };

function parse(argv: string[]): { directory?: string; name?: string; help: boolean; version: boolean } {
  const parsed: { directory?: string; name?: string; help: boolean; version: boolean } = { help: false, version: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h" || arg === "--help") parsed.help = true;
    else if (arg === "-v" || arg === "--version") parsed.version = true;
    else if (arg === "--name") parsed.name = argv[++i] ?? fail("--name needs a value");
    else if (arg.startsWith("--name=")) parsed.name = arg.slice("--name=".length);
    else if (arg.startsWith("-")) fail(`unknown option ${arg}`);
    else if (parsed.directory === undefined) parsed.directory = arg;
    else fail(`one directory only, got ${parsed.directory} and ${arg}`);
  }
  return parsed;
}

function fail(message: string): never {
  console.error(`create-protomesh: ${message}\n\n${usage}`);
  process.exit(2);
}

const args = parse(process.argv.slice(2));
if (args.help) {
  console.log(usage);
} else if (args.version) {
  console.log(version);
} else if (args.directory === undefined) {
  fail("name the directory to create, e.g. npm create protomesh my-api");
} else {
  try {
    const directory = await createProject({ directory: args.directory, name: args.name, protomeshVersion: version });
    // The path the user typed when it is below here, else the absolute one.
    const below = relative(process.cwd(), directory);
    const shown = below === "" ? "." : below.startsWith("..") ? directory : below;
    console.log(`Created ${directory}

Next:
  cd ${shown.includes(" ") ? JSON.stringify(shown) : shown}
  npm install  # then commit everything, package-lock.json included (scripts/ci.sh runs npm ci)
  npm test     # contract gate, type-check, contract, client and outbox tests
  npm start    # serves notes.v1.NotesService on 127.0.0.1:50051 (PGlite; NATS from NATS_URL)

README.md explains the layout and how to add an RPC.`);
  } catch (error) {
    if (isStarterError(error)) {
      console.error(`create-protomesh: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
}
