/** Operation bindings for the test specs (the project's own table only binds the seed's two operations). */
import type { StepFunctionBinding } from '../../../infra/specs/bindings';
import { STEP_FUNCTIONS } from '../../../infra/specs/bindings';
import type { HumanTaskBinding } from '../../../infra/compiler/validate';

const fn = (id: string, operations: string[], timeoutSeconds = 30): StepFunctionBinding => ({
  id,
  entry: `test/fake/${id}.ts`,
  operations,
  timeoutSeconds,
  memoryMb: 128,
});

export const TEST_BINDINGS: readonly StepFunctionBinding[] = [
  ...STEP_FUNCTIONS,
  fn('SyncEmail', ['pfo.email.sync-threads@1.0.0']),
  fn('ScheduleReminder', ['pfo.reminders.schedule-payment@1.0.0']),
  fn('Funds', ['test.funds.reserve@1.0.0', 'test.funds.release@1.0.0']),
  fn('Payments', ['test.payments.charge@1.0.0', 'test.payments.refund@1.0.0'], 10),
  fn('Approvals', ['test.approvals.withdraw@1.0.0']),
  fn('Notify', ['test.notify.send@1.0.0']),
  fn('Tickets', ['test.tickets.escalate@1.0.0', 'test.tickets.archive@1.0.0', 'test.tickets.reply@1.0.0']),
];

export const TEST_HUMAN_TASK: HumanTaskBinding = { placeholderKey: 'HumanTaskFunctionArn', timeoutSeconds: 86_400 };
