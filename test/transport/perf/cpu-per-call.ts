// Server CPU per small unary gRPC call, as FACTS.md measures it: one client process, 64 calls
// in flight, a warm-up, then a measured window. The client is raw node:http2 with a pre-encoded
// request, so it costs little and the server's share is what is reported.
//   node --conditions=source --import tsx test/transport/perf/cpu-per-call.ts connect [warm-up s] [window s]
import { spawn } from "node:child_process";
import { once } from "node:events";
import http2 from "node:http2";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { GetStockRequestSchema } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { freePort } from "../../helpers/free-port.js";

const [kind = "connect", warmUpS = "5", windowS = "10"] = process.argv.slice(2);
const port = await freePort();
const server = spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean), "--conditions=source", "--import", "tsx", "test/transport/perf/bench-server.ts", kind, String(port)], {
  stdio: ["ignore", "pipe", "inherit"],
});
const lines = createInterface({ input: server.stdout })[Symbol.asyncIterator]();
const nextLine = async (): Promise<string> => {
  const line = await lines.next();
  if (line.done === true) throw new Error("the bench server exited");
  return line.value;
};
await nextLine();

const payload = toBinary(GetStockRequestSchema, create(GetStockRequestSchema, { sku: "SKU-12345" }));
const frame = Buffer.alloc(5 + payload.length);
frame.writeUInt32BE(payload.length, 1);
frame.set(payload, 5);
const session = http2.connect(`http://127.0.0.1:${port}`);
const path = "/shop.inventory.v1.InventoryService/GetStock";

function callOnce(): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
    stream.on("trailers", (trailers) => {
      if (trailers["grpc-status"] !== "0") reject(new Error(`grpc-status ${String(trailers["grpc-status"])}`));
    });
    stream.on("data", () => {});
    stream.on("close", resolve);
    stream.on("error", reject);
    stream.end(frame);
  });
}

let running = true;
const clients = Array.from({ length: 64 }, async () => {
  while (running) await callOnce();
});
const sample = async (): Promise<{ cpu: number; calls: number }> => {
  server.kill("SIGUSR2");
  const [, cpu, , calls] = (await nextLine()).split(" ");
  return { cpu: Number(cpu), calls: Number(calls) };
};

await sleep(Number(warmUpS) * 1000);
const before = await sample();
const started = Date.now();
await sleep(Number(windowS) * 1000);
const after = await sample();
const seconds = (Date.now() - started) / 1000;
running = false;
await Promise.all(clients);
session.close();
server.kill("SIGINT");
await once(server, "exit");
const served = after.calls - before.calls;
console.log(`${kind}: ${(served / seconds).toFixed(0)} calls/s, server CPU ${((after.cpu - before.cpu) / served).toFixed(1)} µs/call`);
