import { readFileSync } from 'node:fs';
import path from 'node:path';
import { compileWorkflow } from '../../infra/compiler/compile';
import { renderMermaid } from '../../infra/compiler/diagram';
import { renderFidelityReport } from '../../infra/compiler/report';
import { stepFunctionsByOperation } from '../../infra/specs/bindings';
import { refreshOpenBankingBalancesWorkflow } from '../../infra/specs';

/** The README's diagram and retry table are generated from the compiled ASL; this fails when they drift. */
const readme = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
const compiled = compileWorkflow(refreshOpenBankingBalancesWorkflow, { functions: stepFunctionsByOperation() });

function section(name: string): string {
  const match = new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)<!-- ${name}:end -->`).exec(readme);
  if (!match?.[1]) throw new Error(`README.md has no <!-- ${name}:start/end --> section`);
  return match[1].trim();
}

describe('README generated sections', () => {
  it('shows the Mermaid diagram of the compiled seed state machine', () => {
    expect(section('diagram')).toBe(['```mermaid', renderMermaid(compiled.definition).trim(), '```'].join('\n'));
  });

  it('shows the retry fidelity table of the seed', () => {
    const report = renderFidelityReport(compiled.report).split('\n');
    const start = report.findIndex((line) => line.startsWith('|'));
    const end = report.findIndex((line, i) => i > start && !line.startsWith('|'));
    expect(section('fidelity')).toBe(report.slice(start, end === -1 ? undefined : end).join('\n'));
  });
});
