// The test a user writes beside the new GetNote RPC (copied into the starter's project by
// test/packaging/starter.test.ts).
import { Code, ConnectError } from "@connectrpc/connect";
import { closeClient } from "@protomesh/clients";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createNotesClient } from "../src/notes.client.js";
import { startTestService, type TestService } from "./harness.js";

let service: TestService;
let client: ReturnType<typeof createNotesClient>;
beforeAll(async () => {
  service = await startTestService();
  client = createNotesClient(service.address);
});
afterAll(async () => {
  closeClient(client);
  await service?.stop();
});

it("reads back a created note", async () => {
  const { note } = await client.createNote({ title: "Kept", body: "and found" });
  const found = await client.getNote({ noteId: note!.noteId });
  expect(found.note).toEqual(note);
});

it("answers NotFound for a note that does not exist, and InvalidArgument for an id that is no uuid", async () => {
  const missing = await client.getNote({ noteId: "00000000-0000-4000-8000-000000000000" }).catch((e: unknown) => ConnectError.from(e));
  expect((missing as ConnectError).code).toBe(Code.NotFound);
  const malformed = await client.getNote({ noteId: "nope" }).catch((e: unknown) => ConnectError.from(e));
  expect((malformed as ConnectError).code).toBe(Code.InvalidArgument);
});
