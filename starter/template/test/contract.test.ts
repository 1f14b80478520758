import { readFile } from "node:fs/promises";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { expectContract } from "@protomesh/testing";
import { afterAll, beforeAll, it } from "vitest";
import { NotesService } from "../gen/notes/v1/notes_pb.js";
import { startTestService, type TestService } from "./harness.js";

let service: TestService;
beforeAll(async () => {
  service = await startTestService();
});
afterAll(() => service?.stop());

// Requests generated from the contract and its buf.validate rules: valid ones must be served with
// a defined code, each rule broken on purpose must be rejected naming its field, and responses
// must decode with this contract and with the released one (contracts/baseline.binpb). A new RPC
// is checked as soon as it is in the contract; give it fixtures when it needs existing data.
it("serves NotesService as its contract and the released baseline say", async () => {
  const report = await expectContract({
    service: NotesService,
    transport: createGrpcTransport({ baseUrl: `http://${service.address}` }),
    baseline: await readFile("contracts/baseline.binpb"),
  });
  console.log(`contract: ${report.rulesChecked.length} rules broken on purpose, answers ${JSON.stringify(report.answers)}`);
});
