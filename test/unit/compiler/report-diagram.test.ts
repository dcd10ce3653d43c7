/** Fidelity report arithmetic and rendering; Mermaid diagram edges. */
import { compileWorkflow } from '../../../infra/compiler/compile';
import { renderMermaid } from '../../../infra/compiler/diagram';
import { renderFidelityReport } from '../../../infra/compiler/report';
import { aslRetryDelaysSeconds, contractSpecRetryDelaysMs, toAslRetrier } from '../../../infra/compiler/retry';
import { refreshOpenBankingBalancesWorkflow } from '../../../infra/specs';
import { stepFunctionsByOperation } from '../../../infra/specs/bindings';
import { TEST_FUNCTIONS, TEST_HUMAN_TASK } from '../../support/specs/bindings';
import { paymentApprovalWorkflow } from '../../support/specs/payment-approval';

describe('retry schedules (ContractSpec §2.3 verified table vs ASL)', () => {
  it.each([
    [{ maxAttempts: 3, backoff: 'exponential', delayMs: 1000 }, [1000, 2000, 4000], [1, 2, 4]],
    [{ maxAttempts: 2, backoff: 'linear', delayMs: 750 }, [750, 750], [1, 1]],
    [
      { maxAttempts: 4, backoff: 'exponential', delayMs: 1000, maxDelayMs: 3000 },
      [1000, 2000, 3000, 3000],
      [1, 2, 3, 3],
    ],
    [{ maxAttempts: 4, backoff: 'exponential', delayMs: 1500 }, [1500, 3000, 6000, 12000], [2, 4, 8, 16]],
    [{ maxAttempts: 3, backoff: 'linear', delayMs: 2000, maxDelayMs: 500 }, [500, 500, 500], [1, 1, 1]],
  ] as const)('%j → spec %j ms, ASL %j s', (policy, specMs, aslS) => {
    expect(contractSpecRetryDelaysMs(policy)).toEqual(specMs);
    expect(aslRetryDelaysSeconds(toAslRetrier(policy))).toEqual(aslS);
  });
});

describe('renderFidelityReport', () => {
  it('renders an aligned table with spec and ASL waits and the flagged rounding', () => {
    const text = renderFidelityReport(
      compileWorkflow(refreshOpenBankingBalancesWorkflow, { functions: stepFunctionsByOperation() }).report,
    );
    const rows = text.split('\n').filter((l) => l.startsWith('|'));
    expect(rows).toHaveLength(4);
    expect(new Set(rows.map((r) => r.length)).size).toBe(1);
    expect(text).toContain(
      '| refresh-balances | automation | exponential 3 × 1000 ms | 1000, 2000, 4000 ms | I=1 s, B=2, Max=3 | 1, 2, 4 s',
    );
    expect(text).toContain('retry 1: 750 ms → 1 s, retry 2: 750 ms → 1 s');
    expect(text).toContain('[no-match]');
  });

  it('reports compensation, SLA and condition deviations', () => {
    const report = compileWorkflow(paymentApprovalWorkflow, {
      functions: TEST_FUNCTIONS,
      humanTaskBinding: TEST_HUMAN_TASK,
    }).report;
    expect(report.exact).toBe(false);
    expect(report.notes.map((n) => n.kind)).toEqual(
      expect.arrayContaining(['compensation', 'sla', 'decision', 'data-flow']),
    );
    expect(report.steps.find((s) => s.stepId === 'route')?.notes.map((n) => n.kind)).toContain('number-coercion');
    expect(report.steps.find((s) => s.stepId === 'charge')?.timeout).toEqual({
      specMs: 2500,
      aslSeconds: 3,
      source: 'spec',
    });
  });
});

describe('renderMermaid', () => {
  it('draws Next, Choice, Default and Catch edges and retry annotations', () => {
    const compiled = compileWorkflow(paymentApprovalWorkflow, {
      functions: TEST_FUNCTIONS,
      humanTaskBinding: TEST_HUMAN_TASK,
    });
    const names = Object.keys(compiled.definition.States);
    const id = (n: string) => `s${names.indexOf(n)}`;
    const text = renderMermaid(compiled.definition);
    expect(text.startsWith('flowchart TD\n')).toBe(true);
    expect(text).toContain(`start --> ${id('reserve')}`);
    expect(text).toContain(`${id('reserve')} --> ${id('route')}`);
    expect(text).toContain(`${id('route')} -- "#1" --> ${id('review')}`);
    expect(text).toContain(`${id('route')} -- "default" --> ${id('review')}`);
    expect(text).toContain(`${id('charge')} -. "catch States.ALL" .-> ${id('charge.ifCompleted')}`);
    expect(text).toContain('retry ≤4× 1 s ×2 max 3 s');
  });
});
