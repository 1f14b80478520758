// @protomesh/testing: contract tests derived from the contract. Requests are generated from a
// service's descriptors and protovalidate rules and sent to a running server; its answers are
// checked against the contract and, when given, the released baseline's descriptors.

export {
  checkContract,
  type CheckContractOptions,
  type ContractReport,
  type Finding,
  type FindingKind,
  type Skipped,
} from "./check-contract.js";
export { ContractError, expectContract, formatReport, type ExpectContractOptions } from "./expect-contract.js";
