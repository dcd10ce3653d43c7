/**
 * MOCK of Step Functions, on purpose: no local Step Functions API exists on this machine (aws-local-stepfunctions
 * runs definitions, it does not serve StartExecution/DescribeExecution), so the refresh API's two SFN calls go to
 * this hand-written fake. It reproduces the documented semantics the API relies on: a running execution started
 * again with the same name and input returns the original; a closed one, or a different input, throws
 * ExecutionAlreadyExists; an unknown ARN throws ExecutionDoesNotExist. Errors are the SDK's own classes.
 */
import type { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import {
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
  type ExecutionStatus,
  type StartExecutionCommandOutput,
} from '@aws-sdk/client-sfn';
import type { SfnSender } from '../../lambdas/api/refreshes';

interface FakeExecution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  input: string;
  startDate: Date;
  status: ExecutionStatus;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
}

const metadata = { httpStatusCode: 200 };

export class FakeSfn implements SfnSender {
  readonly executions = new Map<string, FakeExecution>();
  readonly calls: string[] = [];
  constructor(private readonly now: () => Date) {}

  send(command: StartExecutionCommand): Promise<StartExecutionCommandOutput>;
  send(command: DescribeExecutionCommand): Promise<DescribeExecutionCommandOutput>;
  async send(
    command: StartExecutionCommand | DescribeExecutionCommand,
  ): Promise<StartExecutionCommandOutput | DescribeExecutionCommandOutput> {
    if (command instanceof StartExecutionCommand) {
      this.calls.push(`StartExecution ${command.input.name}`);
      const { stateMachineArn = '', name = '', input = '{}' } = command.input;
      const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
      const existing = this.executions.get(executionArn);
      if (existing) {
        if (existing.status === 'RUNNING' && existing.input === input) {
          return { executionArn, startDate: existing.startDate, $metadata: metadata };
        }
        throw new ExecutionAlreadyExists({ message: `Execution Already Exists: '${executionArn}'`, $metadata: {} });
      }
      const startDate = this.now();
      this.executions.set(executionArn, { executionArn, stateMachineArn, name, input, startDate, status: 'RUNNING' });
      return { executionArn, startDate, $metadata: metadata };
    }
    this.calls.push(`DescribeExecution ${command.input.executionArn}`);
    const execution = this.executions.get(command.input.executionArn ?? '');
    if (!execution) {
      throw new ExecutionDoesNotExist({
        message: `Execution Does Not Exist: '${command.input.executionArn}'`,
        $metadata: {},
      });
    }
    return { ...execution, $metadata: metadata };
  }

  /** Test helper: finish an execution as Step Functions would. */
  finish(name: string, result: Partial<Pick<FakeExecution, 'status' | 'output' | 'error' | 'cause'>>): void {
    const execution = [...this.executions.values()].find((e) => e.name === name);
    if (!execution) throw new Error(`no fake execution ${name}`);
    Object.assign(execution, { status: 'SUCCEEDED', stopDate: this.now(), ...result });
  }
}
