/** Functions bound to the test specs' operations (the project's own table only binds the seed's two operations). */
import type { OperationFunction } from '../../../infra/compiler/compile';
import type { HumanTaskBinding } from '../../../infra/compiler/validate';
import { stepFunctionsByOperation } from '../../../infra/specs/bindings';

const fn = (timeoutSeconds = 30): OperationFunction => ({ timeoutSeconds });

export const TEST_FUNCTIONS: Readonly<Record<string, OperationFunction>> = {
  ...stepFunctionsByOperation(),
  'pfo.email.sync-threads@1.0.0': fn(),
  'pfo.reminders.schedule-payment@1.0.0': fn(),
  'test.funds.reserve@1.0.0': { timeoutSeconds: 30, executionId: true },
  'test.funds.release@1.0.0': fn(),
  'test.payments.charge@1.0.0': fn(10),
  'test.payments.refund@1.0.0': fn(10),
  'test.approvals.withdraw@1.0.0': fn(),
  'test.notify.send@1.0.0': fn(),
  'test.tickets.escalate@1.0.0': fn(),
  'test.tickets.archive@1.0.0': fn(),
  'test.tickets.reply@1.0.0': fn(),
};

export const TEST_HUMAN_TASK: HumanTaskBinding = { placeholderKey: 'HumanTaskFunctionArn', timeoutSeconds: 86_400 };
