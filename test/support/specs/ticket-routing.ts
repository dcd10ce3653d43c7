/** A decision entry step with conditional transitions only (no unconditional fallback): exercises "no match". */
import { defineWorkflow } from '../../../infra/compiler/spec';

export const ticketRoutingWorkflow = defineWorkflow({
  meta: {
    key: 'test.workflow.ticket-routing',
    version: '1.0.0',
    description: 'Routes a ticket by severity.',
    owners: ['test'],
    tags: ['test'],
    stability: 'experimental',
  },
  definition: {
    steps: [
      { id: 'classify', type: 'decision', label: 'Classify' },
      {
        id: 'escalate',
        type: 'automation',
        label: 'Escalate',
        action: { operation: { key: 'test.tickets.escalate', version: '1.0.0' } },
      },
      {
        id: 'reply',
        type: 'automation',
        label: 'Auto-reply',
        action: { operation: { key: 'test.tickets.reply', version: '1.0.0' } },
        timeoutMs: 1_500,
      },
    ],
    transitions: [
      { from: 'classify', to: 'escalate', condition: 'data.severity >= 3 && !data.muted || output.vip === true' },
      { from: 'classify', to: 'reply', condition: 'data.severity >= 1' },
    ],
  },
});
