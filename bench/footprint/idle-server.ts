// idle-server.js <kind> <port>: one ItemService server of the chosen kind, loading only that
// kind's modules, so the process's memory is the server's. Run with --expose-gc.
//   bare-connect  createConnectServer from @protomesh/server, no framework
//   nest-connect  a Nest microservice with @protomesh/server/nest's ConnectTransport
//   nest-grpc     Nest's own gRPC transport (Transport.GRPC: grpc-js + proto-loader)
// Sends "ready" over IPC once listening; answers {type: "settle", ms} with a forced collection,
// `ms` of idling, then process.memoryUsage().
import { setTimeout as sleep } from "node:timers/promises";
import { serveParent } from "../harness/children.js";

const [kind = "", portText = ""] = process.argv.slice(2);
const port = Number(portText);
const collect = globalThis.gc;
if (collect === undefined) throw new Error("idle-server.js needs node --expose-gc");

switch (kind) {
  case "bare-connect":
    await (await import("./servers/bare-connect.js")).start(port);
    break;
  case "nest-connect":
    await (await import("./servers/nest-connect.js")).start(port);
    break;
  case "nest-grpc":
    await (await import("./servers/nest-grpc.js")).start(port);
    break;
  default:
    throw new Error(`unknown server kind ${kind}; expected bare-connect, nest-connect or nest-grpc`);
}

serveParent(async (message) => {
  if (message["type"] !== "settle") throw new Error(`unknown request ${String(message["type"])}`);
  collect();
  await sleep(Number(message["ms"]));
  return { ...process.memoryUsage() };
});
process.send?.({ type: "ready" });
