// One fake replica (helpers/replicas.ts) in a process of its own, so a test can freeze it with
// SIGSTOP: its connections stay open and nothing answers. Prints "listening <port>" when ready.
import { startReplica } from "./replicas.js";

const replica = await startReplica();
process.stdout.write(`listening ${replica.port}\n`);
