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

it("creates a note through the typed client", async () => {
  const { note } = await client.createNote({ title: "First", body: "Written through the typed client" });
  expect(note?.title).toBe("First");
  expect(note?.body).toBe("Written through the typed client");
  expect(note?.noteId).toMatch(/^[0-9a-f-]{36}$/);
});

it("rejects a request that breaks the contract's rules with InvalidArgument naming the field", async () => {
  const error = await client.createNote({ title: "" }).catch((e: unknown) => ConnectError.from(e));
  expect(error).toBeInstanceOf(ConnectError);
  expect((error as ConnectError).code).toBe(Code.InvalidArgument);
  expect((error as ConnectError).message).toContain("title");
});
