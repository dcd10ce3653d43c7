import { App, Stack } from 'aws-cdk-lib';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { DEFAULT_FAN_OUT, FanOutStateMachine, type FanOutSettings } from '../constructs/fan-out-state-machine';

/**
 * The fan-out machine's ASL as the FanOutStateMachine construct synthesizes it, for the local run. The construct is
 * instantiated in a throwaway stack (no assets, no bundling) and its `DefinitionString` read back: a CloudFormation
 * `Fn::Join` whose only tokens are ARNs (partition, region, account, the fan-out-page function). test/unit/infra
 * proves the parts equal those of the deployed stack's fan-out; the local run then substitutes the tokens, the way
 * CloudFormation does in AWS.
 */
export type DefinitionPart = string | { [key: string]: unknown };

export interface FanOutDefinitionOptions extends Partial<FanOutSettings> {
  /** Name of the seed machine the Map starts (the stack's; locally any name, only the ARN's shape matters). */
  seedName: string;
}

export function synthesizeFanOutDefinition(options: FanOutDefinitionOptions): DefinitionPart[] {
  const stack = new Stack(new App(), 'LocalFanOut');
  // A stand-in with the NodeFunction's shape: only its ARN (a token) reaches the definition.
  const nextPage = new LambdaFunction(stack, 'FanOutPage', {
    runtime: Runtime.NODEJS_20_X,
    handler: 'index.handler',
    code: Code.fromInline('//'),
  });
  const fanOut = new FanOutStateMachine(stack, 'FanOut', {
    seedName: options.seedName,
    nextPage: { function: nextPage },
    stateMachineName: 'local-fan-out',
    maxConcurrency: options.maxConcurrency ?? DEFAULT_FAN_OUT.maxConcurrency,
    toleratedFailurePercentage: options.toleratedFailurePercentage ?? DEFAULT_FAN_OUT.toleratedFailurePercentage,
  });
  const cfn = fanOut.stateMachine.node.defaultChild as { definitionString?: unknown };
  return definitionParts(stack.resolve(cfn.definitionString));
}

/** The parts of a synthesized DefinitionString (`{"Fn::Join": ["", parts]}`, or a plain string). */
export function definitionParts(definitionString: unknown): DefinitionPart[] {
  if (typeof definitionString === 'string') return [definitionString];
  const join = (definitionString as { 'Fn::Join'?: [string, DefinitionPart[]] } | undefined)?.['Fn::Join'];
  if (!join || join[0] !== '')
    throw new Error(`Unexpected DefinitionString shape: ${JSON.stringify(definitionString).slice(0, 200)}`);
  return join[1];
}

/** Joins the parts, each token replaced by `resolveToken(token)`, and parses the ASL. */
export function renderDefinition<T>(
  parts: readonly DefinitionPart[],
  resolveToken: (token: { [key: string]: unknown }) => string,
): T {
  return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : resolveToken(p))).join('')) as T;
}

export const FAN_OUT_PAGE_PLACEHOLDER = 'FanOutPageFunctionArn';

/** Local values for the tokens: pseudo parameters as in `region`, the function ARN as an executor placeholder. */
export function localTokenResolver(region: string): (token: { [key: string]: unknown }) => string {
  return (token) => {
    const ref = token.Ref;
    if (ref === 'AWS::Partition') return 'aws';
    if (ref === 'AWS::Region') return region;
    if (ref === 'AWS::AccountId') return '000000000000';
    if ('Fn::GetAtt' in token) return `\${${FAN_OUT_PAGE_PLACEHOLDER}}`;
    throw new Error(`The fan-out definition holds a token the local run cannot resolve: ${JSON.stringify(token)}`);
  };
}
