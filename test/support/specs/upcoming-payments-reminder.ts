/** ContractSpec PFO `pfo.workflow.upcoming-payments-reminder` (§3.5): the entry step is a human step. */
import { defineWorkflow } from '../../../infra/compiler/spec';

export const upcomingPaymentsReminderWorkflow = defineWorkflow({
  meta: {
    key: 'pfo.workflow.upcoming-payments-reminder',
    version: '1.0.0',
    title: 'Upcoming Payments Reminder',
    description: 'Collects bill details from a household member, then schedules the reminder.',
    domain: 'finance',
    owners: ['platform.finance'],
    tags: ['automation'],
    stability: 'beta',
  },
  definition: {
    entryStepId: 'collect',
    steps: [
      { id: 'collect', type: 'human', label: 'Confirm Reminder Details' },
      {
        id: 'schedule',
        type: 'automation',
        label: 'Schedule Reminder',
        action: { operation: { key: 'pfo.reminders.schedule-payment', version: '1.0.0' } },
        requiredIntegrations: ['emailOutbound', 'smsNotifications', 'calendarScheduling'],
        retry: { maxAttempts: 2, backoff: 'linear', delayMs: 1_000 },
      },
    ],
    transitions: [
      { from: 'collect', to: 'schedule', condition: 'output?.confirmed === true', label: 'Reminder confirmed' },
    ],
  },
});
