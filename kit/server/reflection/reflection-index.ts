import { createRegistry, toBinary, type DescFile, type DescService, type Registry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";

/** One reflection request, the same in v1 and v1alpha. */
export type ReflectionQuery =
  | { case: "fileByFilename"; value: string }
  | { case: "fileContainingSymbol"; value: string }
  | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
  | { case: "allExtensionNumbersOfType"; value: string }
  | { case: "listServices"; value: string }
  | { case: undefined; value?: undefined };

/** The answer, shaped so it initializes both the v1 and the v1alpha response. */
export type ReflectionAnswer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: Array<{ name: string }> } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

// grpc status codes as reflection's ErrorResponse carries them.
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;

/**
 * What server reflection knows: the files of the served services and, transitively, their
 * imports, as serialized FileDescriptorProtos. Built once; answering is a lookup.
 */
export class ReflectionIndex {
  private readonly files = new Map<string, DescFile>();
  private readonly encoded = new Map<string, Uint8Array>();
  private readonly registry: Registry;
  private readonly serviceNames: string[];

  constructor(services: readonly DescService[]) {
    // Keyed by the file's path as protoc names it ("acme/items/v1/items.proto"); DescFile.name
    // drops the ".proto".
    const visit = (file: DescFile): void => {
      if (this.files.has(file.proto.name)) {
        return;
      }
      this.files.set(file.proto.name, file);
      this.encoded.set(file.proto.name, toBinary(FileDescriptorProtoSchema, file.proto));
      file.dependencies.forEach(visit);
    };
    services.forEach((service) => visit(service.file));
    this.registry = createRegistry(...this.files.values());
    this.serviceNames = [...new Set(services.map((service) => service.typeName))];
  }

  answer(query: ReflectionQuery): ReflectionAnswer {
    switch (query.case) {
      case "listServices":
        return { case: "listServicesResponse", value: { service: this.serviceNames.map((name) => ({ name })) } };
      case "fileByFilename":
        return this.fileAnswer(this.files.get(query.value), `file ${query.value}`);
      case "fileContainingSymbol":
        return this.fileAnswer(this.fileOfSymbol(query.value), `symbol ${query.value}`);
      case "fileContainingExtension": {
        const extendee = this.registry.getMessage(query.value.containingType);
        const extension = extendee && this.registry.getExtensionFor(extendee, query.value.extensionNumber);
        return this.fileAnswer(extension?.file, `extension ${query.value.containingType}(${query.value.extensionNumber})`);
      }
      case "allExtensionNumbersOfType": {
        if (this.registry.getMessage(query.value) === undefined) {
          return notFound(`type ${query.value}`);
        }
        const numbers: number[] = [];
        for (const type of this.registry) {
          if (type.kind === "extension" && type.extendee.typeName === query.value) {
            numbers.push(type.number);
          }
        }
        return { case: "allExtensionNumbersResponse", value: { baseTypeName: query.value, extensionNumber: numbers } };
      }
      case undefined:
        return { case: "errorResponse", value: { errorCode: INVALID_ARGUMENT, errorMessage: "empty request" } };
    }
  }

  // A method ("pkg.Service.Method") or field resolves to the file of its parent.
  private fileOfSymbol(symbol: string): DescFile | undefined {
    const type = this.registry.get(symbol);
    if (type !== undefined) {
      return type.file;
    }
    const parent = symbol.slice(0, Math.max(0, symbol.lastIndexOf(".")));
    const parentType = parent === "" ? undefined : this.registry.get(parent);
    return parentType?.kind === "service" || parentType?.kind === "message" ? parentType.file : undefined;
  }

  // The file and all of its imports, so a client can build the file without asking again.
  private fileAnswer(file: DescFile | undefined, what: string): ReflectionAnswer {
    if (file === undefined) {
      return notFound(what);
    }
    const names: string[] = [];
    const collect = (f: DescFile): void => {
      if (!names.includes(f.proto.name)) {
        names.push(f.proto.name);
        f.dependencies.forEach(collect);
      }
    };
    collect(file);
    return {
      case: "fileDescriptorResponse",
      value: { fileDescriptorProto: names.map((name) => this.encoded.get(name)).filter((b) => b !== undefined) },
    };
  }
}

function notFound(what: string): ReflectionAnswer {
  return { case: "errorResponse", value: { errorCode: NOT_FOUND, errorMessage: `${what} not found` } };
}
