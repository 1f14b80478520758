import { checkContract, type CheckContractOptions, type ContractReport } from "./check-contract.js";

export interface ExpectContractOptions<S extends CheckContractOptions["service"]> extends CheckContractOptions<S> {
  /** Fail when a rule or method went unchecked, too. Default: false (they are listed in the report). */
  failOnSkipped?: boolean;
}

/** Thrown by expectContract: the findings, one a line, and the seed that replays them. */
export class ContractError extends Error {
  override name = "ContractError";
  constructor(readonly report: ContractReport) {
    super(formatReport(report));
  }
}

/**
 * Runs checkContract and throws a ContractError listing the findings when there are any, so it
 * reads as one assertion in any test runner: `await expectContract({ service, transport })`.
 */
export async function expectContract<S extends CheckContractOptions["service"]>(options: ExpectContractOptions<S>): Promise<ContractReport> {
  const report = await checkContract(options);
  if (report.findings.length > 0 || (options.failOnSkipped === true && report.skipped.length > 0)) throw new ContractError(report);
  return report;
}

/** A report as text: findings, skipped rules, then how each method answered valid requests. */
export function formatReport(report: ContractReport): string {
  const lines = [`${report.service} (seed ${report.seed}): ${report.findings.length} finding(s), ${report.rulesChecked.length} rule(s) checked, ${report.skipped.length} skipped, ${report.calls} call(s)`];
  for (const f of report.findings) lines.push(`  ${f.method} ${f.kind}: ${f.message}\n    request ${JSON.stringify(f.request)}`);
  for (const s of report.skipped) lines.push(`  skipped ${s.method} ${s.path} ${s.rule}: ${s.reason}`);
  for (const [method, codes] of Object.entries(report.answers)) {
    lines.push(`  ${method} answered ${Object.entries(codes).map(([code, count]) => `${code} ${count}`).join(", ")}`);
  }
  return lines.join("\n");
}
