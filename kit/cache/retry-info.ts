// google.rpc.RetryInfo, the standard error detail that tells a client how long to wait before
// retrying (google/rpc/error_details.proto). No package here ships that file, so its one message
// is described from a FileDescriptorProto: clients in any language decode it by its type name.
import { create, createFileRegistry } from "@bufbuild/protobuf";
import {
  durationFromMs,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  file_google_protobuf_duration,
  type Duration,
} from "@bufbuild/protobuf/wkt";
import type { DescMessage } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";

const errorDetails = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "google/rpc/error_details.proto",
    package: "google.rpc",
    syntax: "proto3",
    dependency: ["google/protobuf/duration.proto"],
    messageType: [
      {
        name: "RetryInfo",
        field: [
          { name: "retry_delay", jsonName: "retryDelay", number: 1, label: FieldDescriptorProto_Label.OPTIONAL, type: FieldDescriptorProto_Type.MESSAGE, typeName: ".google.protobuf.Duration" },
        ],
      },
    ],
  }),
  (name) => (name === file_google_protobuf_duration.proto.name ? file_google_protobuf_duration : undefined),
);

/** google.rpc.RetryInfo { google.protobuf.Duration retry_delay = 1; } */
export const RetryInfoSchema = errorDetails.getMessage("google.rpc.RetryInfo") as DescMessage;

/** A RetryInfo detail asking the client to wait `retryAfterMs`. */
export function retryInfo(retryAfterMs: number) {
  return { desc: RetryInfoSchema, value: { retryDelay: durationFromMs(Math.max(0, Math.ceil(retryAfterMs))) } };
}

/** The delay a RetryInfo detail of `error` asks for, in ms; undefined when it carries none. */
export function retryDelayMs(error: ConnectError): number | undefined {
  const [info] = error.findDetails(RetryInfoSchema) as { retryDelay?: Duration }[];
  const delay = info?.retryDelay;
  return delay === undefined ? undefined : Number(delay.seconds) * 1000 + Math.round(delay.nanos / 1e6);
}
