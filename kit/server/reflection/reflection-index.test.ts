import { describe, expect, it } from "vitest";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { ItemService } from "../../../test/contract/gen/protomesh/test/v1/item_pb.js";
import { ReflectionIndex } from "./reflection-index.js";

const index = new ReflectionIndex([ItemService]);

function fileNames(answer: ReturnType<ReflectionIndex["answer"]>): string[] {
  if (answer.case !== "fileDescriptorResponse") throw new Error(`expected files, got ${answer.case}`);
  return answer.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
}

describe("ReflectionIndex", () => {
  it("lists the served services", () => {
    expect(index.answer({ case: "listServices", value: "" })).toEqual({
      case: "listServicesResponse",
      value: { service: [{ name: "protomesh.test.v1.ItemService" }] },
    });
  });

  it("answers a symbol with its file and every import, transitively", () => {
    const names = fileNames(index.answer({ case: "fileContainingSymbol", value: "protomesh.test.v1.ItemService" }));
    expect(names[0]).toBe("protomesh/test/v1/item.proto");
    expect(names).toEqual(
      expect.arrayContaining(["buf/validate/validate.proto", "google/protobuf/descriptor.proto", "google/protobuf/timestamp.proto", "protomesh/test/v1/price.proto"]),
    );
  });

  it("resolves methods and nested names to their file", () => {
    expect(fileNames(index.answer({ case: "fileContainingSymbol", value: "protomesh.test.v1.ItemService.GetItem" }))[0]).toBe("protomesh/test/v1/item.proto");
    expect(fileNames(index.answer({ case: "fileByFilename", value: "protomesh/test/v1/price.proto" }))[0]).toBe("protomesh/test/v1/price.proto");
  });

  it("knows the extensions of a type", () => {
    const answer = index.answer({ case: "allExtensionNumbersOfType", value: "google.protobuf.FieldOptions" });
    expect(answer.case === "allExtensionNumbersResponse" && answer.value.extensionNumber).toContain(1159);
    expect(fileNames(index.answer({ case: "fileContainingExtension", value: { containingType: "google.protobuf.FieldOptions", extensionNumber: 1159 } }))[0]).toBe(
      "buf/validate/validate.proto",
    );
  });

  it("answers NOT_FOUND for what it does not know", () => {
    expect(index.answer({ case: "fileContainingSymbol", value: "no.Such" })).toMatchObject({ case: "errorResponse", value: { errorCode: 5 } });
    expect(index.answer({ case: "fileByFilename", value: "nope.proto" })).toMatchObject({ case: "errorResponse", value: { errorCode: 5 } });
  });
});
