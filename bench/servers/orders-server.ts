// One OrdersService server process; only the chosen kind's modules are loaded, so RSS compares.
//   connect       ConnectTransport in a Nest app (the lean gRPC path takes these calls)
//   connect-mtls  the same over mTLS (certificates from the directory given as third argument)
//   bare-connect  connect-node's adapter on node:http2, nothing else
//   nest-grpc     Nest's built-in gRPC transport (grpc-js + proto-loader)
//   grpc-js       a bare grpc-js server with protobuf-es serializers
// Sends "ready" over IPC; answers {type: "sample"} with cumulative CPU µs, RSS, calls and GC ms, and
// {type: "mode", delayMs, fail} by delaying every answer or failing it with Unavailable.
import { serveParent } from "../harness/children.js";
import { gcTotals } from "../harness/gc-time.js";
import { state } from "./orders-handler.js";

const [kind = "connect", portText = "50051", certDir = ""] = process.argv.slice(2);
const port = Number(portText);

switch (kind) {
  case "connect":
    await (await import("./nest-connect.js")).start(port);
    break;
  case "connect-mtls":
    await (await import("./nest-connect.js")).start(port, certDir);
    break;
  case "bare-connect":
    await (await import("./bare-connect.js")).start(port);
    break;
  case "nest-grpc":
    await (await import("./nest-grpc.js")).start(port);
    break;
  case "grpc-js":
    await (await import("./grpc-js.js")).start(port);
    break;
  default:
    throw new Error(`unknown server kind ${kind}`);
}

serveParent((message) => {
  if (message["type"] === "mode") {
    state.delayMs = Number(message["delayMs"] ?? 0);
    state.fail = message["fail"] === true;
    return {};
  }
  const usage = process.cpuUsage();
  return { cpuUs: usage.user + usage.system, rss: process.memoryUsage.rss(), calls: state.calls, ...gcTotals() };
});
process.send?.({ type: "ready" });
