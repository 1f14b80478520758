import { describe, expect, it } from "vitest";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { OrdersService } from "protomesh/gen/shop/orders/v1/orders_pb";
import { ReflectionIndex } from "./reflection-index.js";

const index = new ReflectionIndex([OrdersService]);

function fileNames(answer: ReturnType<ReflectionIndex["answer"]>): string[] {
  if (answer.case !== "fileDescriptorResponse") throw new Error(`expected files, got ${answer.case}`);
  return answer.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
}

describe("ReflectionIndex", () => {
  it("lists the served services", () => {
    expect(index.answer({ case: "listServices", value: "" })).toEqual({
      case: "listServicesResponse",
      value: { service: [{ name: "shop.orders.v1.OrdersService" }] },
    });
  });

  it("answers a symbol with its file and every import, transitively", () => {
    const names = fileNames(index.answer({ case: "fileContainingSymbol", value: "shop.orders.v1.OrdersService" }));
    expect(names[0]).toBe("shop/orders/v1/orders.proto");
    expect(names).toEqual(
      expect.arrayContaining(["buf/validate/validate.proto", "google/protobuf/descriptor.proto", "google/protobuf/timestamp.proto", "shop/common/v1/money.proto"]),
    );
  });

  it("resolves methods and nested names to their file", () => {
    expect(fileNames(index.answer({ case: "fileContainingSymbol", value: "shop.orders.v1.OrdersService.GetOrder" }))[0]).toBe("shop/orders/v1/orders.proto");
    expect(fileNames(index.answer({ case: "fileByFilename", value: "shop/common/v1/money.proto" }))[0]).toBe("shop/common/v1/money.proto");
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
