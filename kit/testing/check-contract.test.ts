// checkContract against the toolkit's test contract served by @protomesh/server over real
// HTTP/2: a correct ItemService passes, and each planted bug is found and named.
import { clone, create, createFileRegistry, setExtension, type DescService } from "@bufbuild/protobuf";
import { FieldOptionsSchema, FileDescriptorProtoSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { field as fieldRulesOption, FieldRulesSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { bindService, createConnectServer, type ConnectServer, type ConnectServerOptions } from "@protomesh/server";
import { checkContract, ContractError, expectContract, formatReport, type ContractReport } from "@protomesh/testing";
import { afterEach, describe, expect, it } from "vitest";
import { file_protomesh_test_v1_item, ItemService } from "../../test/contract/gen/protomesh/test/v1/item_pb.js";
import { baselineBytes, itemService } from "../../test/testing/item-service.js";

/** ItemService from an edited copy of its file descriptor: how a server drifts from its contract. */
function editedItemService(edit: (file: FileDescriptorProto) => void): DescService {
  const file = clone(FileDescriptorProtoSchema, file_protomesh_test_v1_item.proto);
  edit(file);
  const dependencies = new Map(file_protomesh_test_v1_item.dependencies.map((d) => [d.name + ".proto", d]));
  const registry = createFileRegistry(file, (name) => dependencies.get(name));
  const service = registry.getService(ItemService.typeName);
  if (service === undefined) throw new Error("the edited file lost ItemService");
  return service;
}

function messageOf(file: FileDescriptorProto, name: string) {
  const message = file.messageType.find((m) => m.name === name);
  if (message === undefined) throw new Error(`no message ${name}`);
  return message;
}

function fieldOf(file: FileDescriptorProto, message: string, field: string) {
  const found = messageOf(file, message).field.find((f) => f.name === field);
  if (found === undefined) throw new Error(`no field ${message}.${field}`);
  return found;
}

const servers: ConnectServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(service: DescService, impl: ServiceImpl<typeof ItemService>, options: Pick<ConnectServerOptions, "interceptors" | "observe"> = {}) {
  const server = createConnectServer([bindService(service as typeof ItemService, impl)], { host: "127.0.0.1", port: 0, reflection: false, onUnexpectedError: () => {}, ...options });
  servers.push(server);
  const { port } = await server.listen();
  return createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
}

const check = async (service: DescService, impl = itemService(), options: Pick<ConnectServerOptions, "interceptors" | "observe"> = {}): Promise<ContractReport> =>
  checkContract({ service: ItemService, transport: await serve(service, impl, options), baseline: baselineBytes(), seed: 7, streamWindowMs: 200, timeoutMs: loadedMachineTimeoutMs });

// Other suites share the two cores: a deadline that a loaded machine cannot miss, so a finding is
// never the machine's doing.
const loadedMachineTimeoutMs = 30_000;

const kinds = (report: ContractReport) => report.findings.map((f) => `${f.method} ${f.kind}`);

describe("checkContract", () => {
  it("passes a server that keeps the contract, checking every rule of the requests it sends", async () => {
    const report = await check(ItemService);
    expect(report.findings, formatReport(report)).toEqual([]);
    expect(report.skipped).toEqual([]);
    expect(report.rulesChecked).toEqual(
      expect.arrayContaining([
        "GetItem item_id string.min_len",
        "PutItem owner_id string.min_len",
        "PutItem lines repeated.min_items",
        "PutItem lines repeated.max_items",
        "PutItem lines[0].code string.max_len",
        "PutItem lines[0].quantity int32.gt",
        "PutItem lines[0].quantity int32.lte",
        "PutItem price.currency_code string.len",
        "PutItem price.amount_minor int64.gte",
      ]),
    );
    expect(report.calls).toBeGreaterThan(30);
  });

  it("finds a rule the server does not enforce", async () => {
    const stripped = editedItemService((file) => {
      delete fieldOf(file, "PutItemRequest", "owner_id").options;
    });
    const report = await check(stripped);
    expect(kinds(report), formatReport(report)).toEqual(["PutItem rule-not-enforced"]);
    expect(report.findings[0]?.message).toContain("owner_id string.min_len");
    expect(report.findings[0]?.request).not.toHaveProperty("ownerId");
  });

  it("finds a method that answers Unknown", async () => {
    const impl = itemService();
    impl.deleteItem = () => {
      throw new ConnectError("storage said no", Code.Unknown);
    };
    const report = await check(ItemService, impl);
    expect(new Set(kinds(report)), formatReport(report)).toEqual(new Set(["DeleteItem undefined-code"]));
    expect(report.findings[0]?.message).toBe("answered Unknown: storage said no");
  });

  it("finds a response field that was renumbered, with the current types and with the baseline", async () => {
    const renumbered = editedItemService((file) => {
      fieldOf(file, "Item", "owner_id").number = 20;
    });
    const report = await check(renumbered);
    expect(new Set(kinds(report)), formatReport(report)).toEqual(new Set(["PutItem response-unknown-fields", "PutItem baseline-incompatible"]));
    expect(report.findings.map((f) => f.message)).toContain("unknown to the baseline: item: field 20");
  });

  it("finds a server that applies a stricter rule than the contract to valid requests", async () => {
    const stricter = editedItemService((file) => {
      const options = create(FieldOptionsSchema);
      setExtension(options, fieldRulesOption, create(FieldRulesSchema, { type: { case: "string", value: { minLen: 100n } } }));
      fieldOf(file, "PutItemRequest", "owner_id").options = options;
    });
    const report = await check(stricter);
    expect(new Set(kinds(report)), formatReport(report)).toEqual(new Set(["PutItem valid-request-rejected"]));
    expect(report.findings[0]?.message).toContain("owner_id");
  });

  it("finds a server that rejects requests carrying unknown fields", async () => {
    const report = await check(ItemService, itemService(), {
      interceptors: [
        (next) => async (req) => {
          if (!req.stream && (req.message.$unknown?.length ?? 0) > 0) throw new ConnectError("unknown fields are not accepted", Code.InvalidArgument);
          return next(req);
        },
      ],
    });
    // Only the unary methods: the planted check reads no stream.
    expect(kinds(report), formatReport(report)).toEqual(["GetItem unknown-field-rejected", "PutItem unknown-field-rejected", "DeleteItem unknown-field-rejected"]);
  });

  it("finds InvalidArgument that does not say which field broke its rule", async () => {
    const report = await check(ItemService, itemService(), {
      observe: (next) => async (req) => {
        try {
          return await next(req);
        } catch (err) {
          if (ConnectError.from(err).code === Code.InvalidArgument) throw new ConnectError("bad request", Code.InvalidArgument);
          throw err;
        }
      },
    });
    expect(report.rulesChecked.length).toBeGreaterThan(10);
    expect(report.findings).toHaveLength(report.rulesChecked.length);
    expect(new Set(report.findings.map((f) => f.kind))).toEqual(new Set(["violation-not-named"]));
  });

  it("expectContract throws a ContractError that lists the findings and the seed", async () => {
    const impl = itemService();
    impl.echo = async function* () {
      yield* [];
      throw new ConnectError("echo is broken", Code.Internal);
    };
    const transport = await serve(ItemService, impl);
    const failure = await expectContract({ service: ItemService, transport, seed: 3, streamWindowMs: 200, timeoutMs: loadedMachineTimeoutMs }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ContractError);
    expect((failure as ContractError).message).toContain("protomesh.test.v1.ItemService (seed 3)");
    expect((failure as ContractError).message).toContain("Echo undefined-code: answered Internal: echo is broken");
  });
});
