/**
 * `npm run -s workflow -- <asl|explain|diagram|validate> <spec> [options]`
 *
 * <spec>: a .ts/.js module exporting a WorkflowSpec (default export, or the first export that looks like one), or a
 * .json file holding the object passed to defineWorkflow. Operations are bound with infra/specs/bindings.ts.
 * Exit codes: 0 ok; 1 the spec is invalid (issues on stderr); 2 usage error or unreadable spec file.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs as parseCommandLine } from 'node:util';
import { stepFunctionsByOperation } from '../specs/bindings';
import { compileWorkflow, type CompileOptions } from './compile';
import { renderMermaid } from './diagram';
import { renderFidelityReport } from './report';
import { looksLikeWorkflowSpec, type WorkflowSpec } from './spec';
import { validateForAsl, WorkflowValidationError, type ValidationIssue } from './validate';

const USAGE = `Usage: npm run -s workflow -- <command> <spec> [options]

Commands:
  asl       print the compiled Amazon States Language JSON
  explain   print the fidelity report (spec semantics vs what the ASL does)
  diagram   print a Mermaid flowchart of the compiled state machine
  validate  print validation issues; exit 1 when there are errors

<spec>  a .ts/.js module exporting a WorkflowSpec, or a .json file with the object passed to defineWorkflow

Options:
  --allow-unbound                   compile operations missing from infra/specs/bindings.ts with placeholder functions
  --no-match <fail|succeed>         when no transition matches (default fail = ContractSpec runner)
  --optional-chaining <normalize|contractspec>
                                    how to read \`?.\` in conditions (default normalize)
  --human-task <Key[:seconds]>      placeholder key and wait limit for human steps (default HumanTaskFunctionArn:604800)
  --enforce-sla                     sla.totalDurationMs becomes the execution timeout
`;

class UsageError extends Error {
  override readonly name = 'UsageError';
}
class SpecLoadError extends Error {
  override readonly name = 'SpecLoadError';
}

interface Args {
  command: 'asl' | 'explain' | 'diagram' | 'validate';
  specPath: string;
  options: Omit<CompileOptions, 'functions'>;
}

const COMMANDS = ['asl', 'explain', 'diagram', 'validate'] as const;

const HUMAN_TASK_DEFAULT = { placeholderKey: 'HumanTaskFunctionArn', timeoutSeconds: 604_800 };

export function parseArgs(argv: readonly string[]): Args {
  let parsed;
  try {
    parsed = parseCommandLine({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        'allow-unbound': { type: 'boolean' },
        'enforce-sla': { type: 'boolean' },
        'no-match': { type: 'string' },
        'optional-chaining': { type: 'string' },
        'human-task': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) throw new UsageError('');
  const options: Omit<CompileOptions, 'functions'> = { humanTaskBinding: HUMAN_TASK_DEFAULT };
  if (values['allow-unbound']) options.allowUnboundOperations = true;
  if (values['enforce-sla']) options.enforceSla = true;
  const noMatch = values['no-match'];
  if (noMatch !== undefined) {
    if (noMatch !== 'fail' && noMatch !== 'succeed')
      throw new UsageError(`--no-match must be fail or succeed, got "${noMatch}"`);
    options.noMatch = noMatch;
  }
  const chaining = values['optional-chaining'];
  if (chaining !== undefined) {
    if (chaining !== 'normalize' && chaining !== 'contractspec')
      throw new UsageError(`--optional-chaining must be normalize or contractspec, got "${chaining}"`);
    options.optionalChaining = chaining;
  }
  if (values['human-task'] !== undefined) {
    const [key, seconds] = values['human-task'].split(':');
    const timeoutSeconds = seconds === undefined ? HUMAN_TASK_DEFAULT.timeoutSeconds : Number(seconds);
    if (!key || !Number.isInteger(timeoutSeconds) || timeoutSeconds < 1)
      throw new UsageError('--human-task must be <Key>[:<positive integer seconds>]');
    options.humanTaskBinding = { placeholderKey: key, timeoutSeconds };
  }
  const [command, specPath, ...rest] = positionals;
  if (!command || !(COMMANDS as readonly string[]).includes(command))
    throw new UsageError(command ? `unknown command "${command}"` : 'missing command');
  if (!specPath) throw new UsageError('missing <spec> path');
  if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  return { command: command as Args['command'], specPath, options };
}

export async function loadSpec(specPath: string): Promise<WorkflowSpec> {
  const abs = path.resolve(specPath);
  if (abs.endsWith('.json')) {
    let text: string;
    try {
      text = await readFile(abs, 'utf8');
    } catch (error) {
      throw new SpecLoadError(
        `cannot read spec file ${abs}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new SpecLoadError(`spec file ${abs} is not valid JSON: ${(error as Error).message}`);
    }
    if (!looksLikeWorkflowSpec(parsed))
      throw new SpecLoadError(
        `spec file ${abs} does not hold a WorkflowSpec (expected {meta: {key, ...}, definition: {steps: [...]}})`,
      );
    return parsed;
  }
  if (!/\.(ts|js|cjs|mjs|mts|cts)$/.test(abs))
    throw new SpecLoadError(`spec file ${abs}: expected a .ts/.js module or a .json file`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (error) {
    throw new SpecLoadError(`cannot load spec module ${abs}: ${(error as Error).message}`);
  }
  const candidates = [
    mod.default,
    ...Object.entries(mod)
      .filter(([k]) => k !== 'default')
      .map(([, v]) => v),
  ];
  const found = candidates.find(looksLikeWorkflowSpec);
  if (!found)
    throw new SpecLoadError(
      `spec module ${abs} exports no WorkflowSpec (exports: ${Object.keys(mod).join(', ') || 'none'})`,
    );
  return found;
}

function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((i) => `${i.level.toUpperCase()} [${i.code}] ${i.path}: ${i.message}`).join('\n');
}

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`${error.message ? `error: ${error.message}\n\n` : ''}${USAGE}`);
      return 2;
    }
    throw error;
  }
  let spec: WorkflowSpec;
  try {
    spec = await loadSpec(args.specPath);
  } catch (error) {
    if (error instanceof SpecLoadError) {
      io.stderr(`error: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const options: CompileOptions = { functions: stepFunctionsByOperation(), ...args.options };
  if (args.command === 'validate') {
    const issues = validateForAsl(spec, options);
    io.stdout(
      issues.length === 0 ? `${spec.meta.key}@${spec.meta.version}: valid, no issues\n` : `${formatIssues(issues)}\n`,
    );
    return issues.some((i) => i.level === 'error') ? 1 : 0;
  }
  try {
    const compiled = compileWorkflow(spec, options);
    if (compiled.warnings.length > 0) io.stderr(`${formatIssues(compiled.warnings)}\n`);
    if (args.command === 'asl') io.stdout(`${compiled.json}\n`);
    else if (args.command === 'explain') io.stdout(renderFidelityReport(compiled.report));
    else io.stdout(renderMermaid(compiled.definition));
    return 0;
  } catch (error) {
    if (error instanceof WorkflowValidationError) {
      io.stderr(`${formatIssues(error.issues)}\n`);
      return 1;
    }
    throw error;
  }
}

if (require.main === module) {
  main(process.argv.slice(2), { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(
        `unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 70;
    },
  );
}
