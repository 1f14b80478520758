import {
  clone,
  create,
  createFileRegistry,
  fromBinary,
  toJson,
  type DescMessage,
  type DescService,
  type Message,
  type MessageInitShape,
  type Registry,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { WireType } from "@bufbuild/protobuf/wire";
import { createValidator, type Validator } from "@bufbuild/protovalidate";
import { ViolationsSchema, type FieldPath } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, type ConnectError, type Transport } from "@connectrpc/connect";
import { callMethod, type CallLimits, type CallOutcome } from "./call-method.js";
import { createRandom } from "./random.js";
import { baselineProblems, unknownFields } from "./response-checks.js";
import { ruleViolations } from "./rule-violations.js";
import { validRequest } from "./valid-requests.js";

/** What checkContract checks and how hard. */
export interface CheckContractOptions<S extends DescService = DescService> {
  /** The generated service descriptor: the contract. */
  service: S;
  /** A Connect transport to the running server (createGrpcTransport, createConnectTransport, ...). */
  transport: Transport;
  /**
   * The released contract: a registry, or FileDescriptorSet bytes (`buf build -o x.binpb`).
   * Responses are decoded with it too. Default: none, no baseline check.
   */
  baseline?: Registry | Uint8Array;
  /** Generated valid requests sent to each method. Default: 3. */
  requestsPerMethod?: number;
  /** Seed of every generated value; a report names it so a failure can be replayed. Default: 1. */
  seed?: number;
  /** Methods not called at all, by name ("GetItem" or "getItem"). Default: none. */
  skip?: readonly string[];
  /**
   * Valid requests per method (by name) for methods whose useful answers need existing data.
   * They are sent as they are, and the first one is the base of the rule-breaking requests.
   * Default: none; every request is generated.
   */
  fixtures?: Readonly<Record<string, readonly MessageInitShape<DescMessage>[]>>;
  /**
   * Codes a valid request may end with besides OK. Default: every code except Unknown, Internal,
   * Unimplemented, DataLoss and DeadlineExceeded (InvalidArgument only without rule violations).
   */
  acceptedCodes?: readonly Code[];
  /** Deadline of each call. Default: 5000 ms. */
  timeoutMs?: number;
  /** A stream quiet for this long counts as open and is cancelled. Default: 500 ms. */
  streamWindowMs?: number;
  /** The validator that confirms generated requests. Default: protovalidate's createValidator(). */
  validator?: Validator;
}

export type FindingKind =
  /** A request that breaks a rule was not answered with InvalidArgument. */
  | "rule-not-enforced"
  /** InvalidArgument came back, but no violation or message names the broken field. */
  | "violation-not-named"
  /** A request that satisfies every rule got InvalidArgument with rule violations. */
  | "valid-request-rejected"
  /** A valid request ended with a code outside the accepted set (Unknown, Internal, ...). */
  | "undefined-code"
  /** A request carrying an unknown field was rejected. */
  | "unknown-field-rejected"
  /** A response carried fields the current contract does not define. */
  | "response-unknown-fields"
  /** A response could not be read with the baseline, or a field changed number or type since it. */
  | "baseline-incompatible";

export interface Finding {
  method: string;
  kind: FindingKind;
  message: string;
  /** The request that showed it, as JSON. */
  request: unknown;
}

/** A rule, or a whole method, that no request checked, and why: never counted as passed. */
export interface Skipped {
  method: string;
  path: string;
  rule: string;
  reason: string;
}

export interface ContractReport {
  service: string;
  seed: number;
  /** Calls made. */
  calls: number;
  /**
   * How each method answered the valid requests (generated and fixtures), by code name ("OK",
   * "NotFound", ...; "open" for a stream still open when reading stopped): shows which methods
   * had responses to decode.
   */
  answers: Record<string, Record<string, number>>;
  /** Rules checked with a rule-breaking request, as "Method path rule". */
  rulesChecked: string[];
  findings: Finding[];
  skipped: Skipped[];
}

const undefinedCodes = new Set([Code.Unknown, Code.Internal, Code.Unimplemented, Code.DataLoss, Code.DeadlineExceeded]);
const defaultAcceptedCodes = Object.values(Code).filter((c): c is Code => typeof c === "number" && !undefinedCodes.has(c));
/** The highest field number protobuf allows: no contract is likely to use it. */
const unknownFieldNumber = 536_870_911;

/** Checks a running server against its contract: see ContractReport and the package README. */
export async function checkContract<S extends DescService>(options: CheckContractOptions<S>): Promise<ContractReport> {
  const { service, transport } = options;
  const seed = options.seed ?? 1;
  const random = createRandom(seed);
  const validator = options.validator ?? createValidator();
  const baseline = options.baseline instanceof Uint8Array ? createFileRegistry(fromBinary(FileDescriptorSetSchema, options.baseline)) : options.baseline;
  const accepted = new Set(options.acceptedCodes ?? defaultAcceptedCodes);
  const limits: CallLimits = { timeoutMs: options.timeoutMs ?? 5000, streamWindowMs: options.streamWindowMs ?? 500 };
  const skip = new Set(options.skip ?? []);
  const report: ContractReport = { service: service.typeName, seed, calls: 0, answers: {}, rulesChecked: [], findings: [], skipped: [] };

  for (const method of service.methods) {
    if (skip.has(method.name) || skip.has(method.localName)) continue;
    const input = method.input;
    const json = (request: Message) => toJson(input, request, { alwaysEmitImplicit: false });
    const finding = (kind: FindingKind, request: Message, message: string) =>
      report.findings.push({ method: method.name, kind, message, request: json(request) });
    const call = async (request: Message): Promise<CallOutcome> => {
      report.calls++;
      return callMethod(transport, method, request, limits);
    };

    const valid: Message[] = [];
    for (const init of options.fixtures?.[method.name] ?? options.fixtures?.[method.localName] ?? []) {
      const fixture = create(input, init);
      const result = validator.validate(input, fixture);
      if (result.kind !== "valid") throw new Error(`the fixture for ${method.name} breaks its own contract: ${result.error.message}`);
      valid.push(fixture);
    }
    for (let i = 0; i < (options.requestsPerMethod ?? 3); i++) {
      const generated = validRequest(input, validator, random);
      if (generated.request !== undefined) valid.push(generated.request);
      else if (i === 0) {
        report.skipped.push({ method: method.name, path: "(request)", rule: "(valid request)", reason: `no generated request satisfies the rules (${generated.problems.join("; ")}); give a fixture` });
      }
    }
    const base = valid[0];
    if (base === undefined) continue;

    const answers: Record<string, number> = (report.answers[method.name] = {});
    let baseRejected = false;
    for (const request of valid) {
      const outcome = await call(request);
      if (request === base) baseRejected = outcome.kind === "error" && outcome.error.code === Code.InvalidArgument;
      const answer = outcome.kind === "error" ? Code[outcome.error.code] : outcome.kind === "ok" ? "OK" : "open";
      answers[answer] = (answers[answer] ?? 0) + 1;
      checkValidOutcome(outcome, request, finding, accepted, limits);
      for (const response of outcome.responses) {
        for (const unknown of unknownFields(method.output, response)) {
          finding("response-unknown-fields", request, `the response carries fields ${method.output.typeName} does not define: ${unknown}`);
        }
        if (baseline !== undefined) {
          for (const problem of baselineProblems(method.output, response, baseline)) finding("baseline-incompatible", request, problem);
        }
      }
    }

    // Only a request whose twin without the unknown field was not rejected tells anything.
    if (!baseRejected) {
      const withUnknown = clone(input, base);
      (withUnknown as { $unknown?: unknown[] }).$unknown = [{ no: unknownFieldNumber, wireType: WireType.Varint, data: Uint8Array.of(1) }];
      const outcome = await call(withUnknown);
      if (outcome.kind === "error" && outcome.error.code === Code.InvalidArgument) {
        finding("unknown-field-rejected", base, `a request with unknown field ${unknownFieldNumber} was rejected: ${outcome.error.rawMessage}`);
      } else {
        checkValidOutcome(outcome, withUnknown, finding, accepted, limits);
      }
    }

    const { violations, unchecked } = ruleViolations(input, base, validator);
    report.skipped.push(...unchecked.map((u) => ({ method: method.name, ...u })));
    for (const violation of violations) {
      report.rulesChecked.push(`${method.name} ${violation.path} ${violation.rule}`);
      const outcome = await call(violation.request);
      if (outcome.kind !== "error" || outcome.error.code !== Code.InvalidArgument) {
        const answer = outcome.kind === "error" ? Code[outcome.error.code] : outcome.kind === "ok" ? "OK" : "an open stream";
        finding("rule-not-enforced", violation.request, `breaking ${violation.path} ${violation.rule} was answered with ${answer}, not InvalidArgument`);
      } else if (!namesField(outcome.error, violation.path)) {
        finding("violation-not-named", violation.request, `breaking ${violation.path} ${violation.rule} got InvalidArgument that does not name ${violation.path}: ${outcome.error.rawMessage}`);
      }
    }
  }
  return report;
}

function checkValidOutcome(
  outcome: CallOutcome,
  request: Message,
  finding: (kind: FindingKind, request: Message, message: string) => void,
  accepted: ReadonlySet<Code>,
  limits: CallLimits,
): void {
  if (outcome.kind !== "error") return;
  const { error } = outcome;
  if (error.code === Code.InvalidArgument && error.findDetails(ViolationsSchema).length > 0) {
    finding("valid-request-rejected", request, `a request satisfying every rule got InvalidArgument: ${error.rawMessage}`);
  } else if (error.code === Code.DeadlineExceeded) {
    finding("undefined-code", request, `no answer within ${limits.timeoutMs} ms`);
  } else if (!accepted.has(error.code)) {
    finding("undefined-code", request, `answered ${Code[error.code]}: ${error.rawMessage}`);
  }
}

/** True when InvalidArgument names the field: in a buf.validate.Violations detail, else in its message. */
function namesField(error: ConnectError, path: string): boolean {
  const details = error.findDetails(ViolationsSchema);
  if (details.length > 0) return details.some((d) => d.violations.some((v) => v.field !== undefined && fieldPathString(v.field) === path));
  return error.rawMessage.includes(path);
}

function fieldPathString(path: FieldPath): string {
  return path.elements
    .map((e) => {
      switch (e.subscript.case) {
        case "index":
          return `${e.fieldName}[${e.subscript.value}]`;
        case undefined:
          return e.fieldName;
        default:
          return `${e.fieldName}[${JSON.stringify(String(e.subscript.value))}]`;
      }
    })
    .join(".");
}

