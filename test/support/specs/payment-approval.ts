/**
 * A richer test spec: decision routing (first match wins), a human approval with a form, a guard, a per-attempt
 * timeout, exponential retry with a cap, a step without retry, and on_failure compensation.
 */
import { defineWorkflow } from '../../../infra/compiler/spec';

export const paymentApprovalWorkflow = defineWorkflow({
  meta: {
    key: 'test.workflow.payment-approval',
    version: '1.0.0',
    title: 'Payment Approval',
    description: 'Reserves funds, asks for approval above a threshold, charges and notifies; undoes on failure.',
    owners: ['test'],
    tags: ['test'],
    stability: 'experimental',
  },
  definition: {
    entryStepId: 'reserve',
    steps: [
      {
        id: 'reserve',
        type: 'automation',
        label: 'Reserve funds',
        action: { operation: { key: 'test.funds.reserve', version: '1.0.0' } },
        retry: { maxAttempts: 2, backoff: 'exponential', delayMs: 2_000 },
      },
      { id: 'route', type: 'decision', label: 'Needs approval?' },
      {
        id: 'review',
        type: 'human',
        label: 'Approve payment',
        action: { form: { key: 'test.forms.approval', version: '1.0.0' } },
      },
      {
        id: 'charge',
        type: 'automation',
        label: 'Charge',
        guard: { type: 'expression', value: 'data.reservationId && input.currency === "EUR"' },
        action: { operation: { key: 'test.payments.charge', version: '1.0.0' } },
        timeoutMs: 2_500,
        retry: { maxAttempts: 4, backoff: 'exponential', delayMs: 1_000, maxDelayMs: 3_000 },
      },
      {
        id: 'notify',
        type: 'automation',
        label: 'Notify payer',
        action: { operation: { key: 'test.notify.send', version: '1.0.0' } },
      },
    ],
    transitions: [
      { from: 'reserve', to: 'route' },
      { from: 'route', to: 'review', condition: 'data.amount > 1000', label: 'Large amount' },
      { from: 'route', to: 'charge', condition: "input.priority === 'high' || data.trusted", label: 'Fast lane' },
      { from: 'route', to: 'review', label: 'Everything else' },
      { from: 'review', to: 'charge', condition: 'output.approved === true', label: 'Approved' },
      { from: 'charge', to: 'notify' },
    ],
    compensation: {
      trigger: 'on_failure',
      steps: [
        {
          stepId: 'reserve',
          operation: { key: 'test.funds.release', version: '1.0.0' },
          description: 'Release the reservation',
        },
        { stepId: 'review', operation: { key: 'test.approvals.withdraw', version: '1.0.0' } },
        { stepId: 'charge', operation: { key: 'test.payments.refund', version: '1.0.0' } },
      ],
    },
    sla: { totalDurationMs: 3_600_000 },
  },
});
