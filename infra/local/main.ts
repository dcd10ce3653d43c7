import './node-compat';
import { parseArgs } from 'node:util';
import type { FetchBalancesOutput } from '../../lambdas/core/domain/fetch-balances';
import type { ConnectionReport, RefreshBalancesOutput } from '../../lambdas/core/domain/refresh-balances';
import type { StaleReason } from '../../lambdas/core/domain/positions';
import { formatAmount, formatProgress } from './report';
import { renderTable } from '../text-table';
import { runLocalFanOut, type LocalFanOutOptions, type LocalFanOutResult } from './fan-out';
import { runLocalRefresh, type LocalRunOptions, type LocalRunResult } from './run';
import { parseFaultOption } from './fault-option';
import { isClassifiedErrorName, type StepErrorName } from '../../lambdas/core/errors';
import { runAsScript } from './run-as-script';

const USAGE = `Usage: npm start -- [options]

Runs one refresh of the compiled state machine on this machine (embedded DynamoDB and Powens sandbox by default).

  --input JSON               execution input, as in the Step Functions console (default {}), e.g.
                             {"userIds":[1001],"connectionIds":[2001],"psuRequested":false,"maxAgeMinutes":360}
                             maxAgeMinutes: a connection Powens synced less than this many minutes ago (or whose
                             automatic sync is due within the hour) is not forced (default 360; 0 forces every
                             healthy connection, still at most 4 unattended syncs per connection per 24 h)
  --fault SPEC               inject a sandbox fault, repeatable. SPEC = <target>:<kind>[x<times>]
                               target: sync | connections | accounts | any
                               kind:   500 | 502 | 503 | 504 | 429[@<retry-after-s>] | timeout | reset | malformed
                             e.g. --fault sync:503x2   --fault accounts:429@3   --fault sync:timeout
  --time-scale N             multiply retry waits (default: real seconds; 0 = no waiting; 0.1 = 10x faster)
  --sync-latency-ms N        how long a sandbox sync takes (default 200)
  --powens-timeout-ms N      Powens read timeout; --powens-sync-timeout-ms N for syncs (defaults 15000 / 180000)
  --powens-calls-per-minute N  Powens call budget shared by every Lambda (default 600 with the embedded sandbox,
                             which has no limit; 30, a Powens sandbox client's limit, with --powens-base-url)
  --powens-base-url URL      use a real Powens domain (https://<domain>.biapi.pro/2.0) instead of the sandbox
  --powens-secret-file FILE  JSON {clientId, clientSecret, users:[{userId, token, label}]}; required with the above
                             (with real Powens and no DynamoDB option below, the embedded table is kept on disk
                             in .local/dynamodb so the PSD2 budget counts across runs)
  --dynamodb-endpoint URL    use this DynamoDB endpoint (e.g. DynamoDB Local) instead of the embedded one
  --aws-region REGION        use real DynamoDB in REGION (default credential chain; table must exist)
  --table-name NAME          table to write (default openbanking-balances-local)
  --tenant-id ID             tenant the balances belong to (default family-office)
  --users N                  run the fan-out instead (one seed execution per user, as the schedule does in AWS):
                             the sandbox generates N users of 2 connections each; the fan-out machine's ASL as CDK
                             synthesizes it runs locally, its Distributed Map starting the compiled seed machine once
                             per user; progress shows users done/total. --fault rules then hit every user.
                             --input is then the fan-out's: {} or {"maxAgeMinutes":N}; users none of whose
                             connections needs a forced sync (connection health) are skipped, every child gets N
  --max-concurrency N        with --users: Distributed Map MaxConcurrency (default 10, as deployed)
  --tolerated-failure-percentage N  with --users: ToleratedFailurePercentage (default 10, as deployed)
  --verbose                  also print the Lambdas' own structured logs
  --json                     print the execution result as JSON instead of tables (with the stored \`balances\`,
                             each with assetClass and stale, and \`positions\` per currency and asset class)
  -h, --help                 this text
`;

/**
 * With --json every outcome is one JSON document on stdout, failures included: `{status: "ERROR", error, message,
 * exitCode}` where `error` is a name of lambdas/core/errors.ts (ValidationFailed for bad flags or input; the failure's
 * own name, else InternalError, when the run cannot start), so a script never has to parse prose.
 */
function failure(
  json: boolean,
  out: (line: string) => void,
  error: StepErrorName,
  message: string,
  exitCode: number,
  usage = false,
): number {
  if (json) out(JSON.stringify({ status: 'ERROR', error, message, exitCode }, null, 2));
  else out(usage ? `error: ${message}\n\n${USAGE}` : `error: ${message}`);
  return exitCode;
}

/** A run that could not start exits 1 under the failure's own name when it has one of ours, else InternalError. */
function startFailure(json: boolean, out: (line: string) => void, what: string, error: unknown): number {
  const name = error instanceof Error && isClassifiedErrorName(error.name) ? error.name : 'InternalError';
  return failure(
    json,
    out,
    name,
    `${what} could not start: ${error instanceof Error ? error.message : String(error)}`,
    1,
  );
}

export async function main(
  argv: readonly string[],
  out: (line: string) => void = (l) => console.log(l),
): Promise<number> {
  // Decided before parsing, so that a bad flag is reported as JSON too.
  const wantsJson = argv.includes('--json');
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        input: { type: 'string' },
        fault: { type: 'string', multiple: true },
        'time-scale': { type: 'string' },
        'sync-latency-ms': { type: 'string' },
        'powens-timeout-ms': { type: 'string' },
        'powens-sync-timeout-ms': { type: 'string' },
        'powens-calls-per-minute': { type: 'string' },
        'powens-base-url': { type: 'string' },
        'powens-secret-file': { type: 'string' },
        'dynamodb-endpoint': { type: 'string' },
        'aws-region': { type: 'string' },
        'table-name': { type: 'string' },
        'tenant-id': { type: 'string' },
        users: { type: 'string' },
        'max-concurrency': { type: 'string' },
        'tolerated-failure-percentage': { type: 'string' },
        verbose: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
  } catch (error) {
    return failure(wantsJson, out, 'ValidationFailed', (error as Error).message, 2, true);
  }
  const { values } = parsed;
  if (values.help) {
    out(USAGE);
    return 0;
  }

  let options: LocalRunOptions;
  try {
    options = {
      input: values.input === undefined ? {} : parseJsonOption('--input', values.input),
      faults: (values.fault ?? []).map(parseFaultOption),
      ...numberOption('timeScale', '--time-scale', values['time-scale']),
      ...numberOption('syncLatencyMs', '--sync-latency-ms', values['sync-latency-ms']),
      ...numberOption('powensTimeoutMs', '--powens-timeout-ms', values['powens-timeout-ms']),
      ...numberOption('powensSyncTimeoutMs', '--powens-sync-timeout-ms', values['powens-sync-timeout-ms']),
      ...numberOption('powensCallsPerMinute', '--powens-calls-per-minute', values['powens-calls-per-minute']),
      ...optional('powensBaseUrl', values['powens-base-url']),
      ...optional('powensSecretFile', values['powens-secret-file']),
      ...optional('dynamodbEndpoint', values['dynamodb-endpoint']),
      ...optional('awsRegion', values['aws-region']),
      ...optional('tableName', values['table-name']),
      ...optional('tenantId', values['tenant-id']),
      verbose: values.verbose ?? false,
    };
  } catch (error) {
    return failure(wantsJson, out, 'ValidationFailed', (error as Error).message, 2, true);
  }

  const json = values.json ?? false;
  if (values.users !== undefined) {
    let fanOut: LocalFanOutOptions;
    try {
      fanOut = {
        ...options,
        ...fanOutOptions(values.users, values['max-concurrency'], values['tolerated-failure-percentage']),
      };
    } catch (error) {
      return failure(json, out, 'ValidationFailed', (error as Error).message, 2, true);
    }
    if (options.powensBaseUrl !== undefined) {
      return failure(
        json,
        out,
        'ValidationFailed',
        '--users generates sandbox users: it cannot be combined with --powens-base-url',
        2,
        true,
      );
    }
    if (!json) {
      fanOut.onUserProgress = (p) => {
        const notes = [p.failed > 0 ? `${p.failed} failed` : '', p.skipped > 0 ? `${p.skipped} skipped: fresh` : '']
          .filter(Boolean)
          .join(', ');
        out(`users ${p.done}/${p.total} done${notes ? ` (${notes})` : ''}: user ${p.userId} ${p.status}`);
      };
    }
    let fanOutResult: LocalFanOutResult;
    try {
      fanOutResult = await runLocalFanOut(fanOut);
    } catch (error) {
      return startFailure(json, out, 'the local fan-out', error);
    }
    out(json ? JSON.stringify(fanOutResult, null, 2) : renderFanOutResult(fanOutResult));
    return fanOutResult.status === 'SUCCEEDED' ? 0 : 1;
  }
  if (values['max-concurrency'] !== undefined || values['tolerated-failure-percentage'] !== undefined) {
    return failure(
      json,
      out,
      'ValidationFailed',
      '--max-concurrency and --tolerated-failure-percentage need --users',
      2,
      true,
    );
  }
  if (!json) {
    options.onProgress = (event) => {
      const line = formatProgress(event);
      if (line) out(line);
    };
  }
  let result: LocalRunResult;
  try {
    result = await runLocalRefresh(options);
  } catch (error) {
    return startFailure(json, out, 'the local run', error);
  }
  if (json) {
    out(JSON.stringify(result, null, 2));
  } else {
    out(renderResult(result));
  }
  return result.status === 'SUCCEEDED' ? 0 : 1;
}

export function renderResult(result: LocalRunResult): string {
  const lines: string[] = [''];
  if (result.status !== 'SUCCEEDED') {
    lines.push(`Refresh FAILED with ${result.error}: ${result.cause ?? ''}`);
    lines.push(`Nothing after the failed step ran; what earlier steps stored is kept. Rerun once the cause is fixed.`);
    return lines.join('\n');
  }
  // The execution output keeps each step's output in its slot (compiler README, "Data flow").
  const steps = (result.output as { steps?: Record<string, { output?: unknown }> } | undefined)?.steps ?? {};
  const refresh = (steps['refresh-balances']?.output ?? {}) as Partial<RefreshBalancesOutput>;
  const data = (steps['fetch-balances']?.output ?? {}) as Partial<FetchBalancesOutput>;
  const connections: ConnectionReport[] = refresh.connections ?? [];
  if (result.webhooks !== undefined) {
    const statuses = Object.entries(result.webhooks.statuses)
      .map(([status, n]) => `${n}× ${status}`)
      .join(', ');
    lines.push(
      `Webhooks: Powens' own daily sync of connection(s) ${result.webhooks.autoSynced.join(', ') || 'none'} and every ` +
        `forced sync were pushed as signed CONNECTION_SYNCED to the local receiver: ${result.webhooks.delivered} ` +
        `delivered (${statuses || 'none'}).`,
      '',
    );
  }
  lines.push('Connections (refresh-balances)');
  lines.push(
    renderTable(connections, [
      { header: 'user', value: (c) => String(c.userId) },
      { header: 'connection', value: (c) => (c.connectionId === undefined ? '-' : String(c.connectionId)) },
      { header: 'outcome', value: (c) => c.outcome },
      { header: 'detail', value: (c) => [c.reason, c.state, c.error?.name].filter(Boolean).join(', ') },
      { header: 'syncs sent', value: (c) => String(c.forcedSyncs ?? 0), align: 'right' },
      { header: 'last update', value: (c) => c.lastUpdate ?? '' },
    ]),
  );
  if (refresh.forcedSyncs !== undefined) {
    lines.push(
      `${refresh.forcedSyncs} forced sync(s) sent (each took a PSD2 slot); connections synced by Powens less than ` +
        `${refresh.maxAgeMinutes ?? '?'} min ago were left alone (maxAgeMinutes).`,
    );
  }
  const needsUser = connections.filter((c) => c.outcome === 'needs_user_action');
  if (needsUser.length > 0) {
    lines.push(
      `${needsUser.length} connection(s) need the account holder (e.g. SCA): ` +
        needsUser
          .map((c) => `user ${c.userId} connection ${c.connectionId ?? '-'} (${c.state ?? c.reason ?? ''})`)
          .join('; '),
    );
  }
  const hours = `${Math.round((result.maxAgeMinutes / 60) * 10) / 10} h`;
  lines.push(
    '',
    `Balances (latest stored, as of ${data.asOf ?? 'n/a'}; stale = older than ${hours} or the connection needs the account holder)`,
  );
  lines.push(
    renderTable(result.balances, [
      { header: 'account', value: (b) => b.accountId },
      { header: 'name', value: (b) => String((b.metadata as { name?: unknown } | undefined)?.name ?? '') },
      { header: 'class', value: (b) => b.assetClass },
      { header: 'type', value: (b) => b.accountType ?? '' },
      { header: 'connection', value: (b) => b.connectionId },
      { header: 'currency', value: (b) => b.currency },
      { header: 'current', value: (b) => formatAmount(b.currentBalance), align: 'right' },
      { header: 'available', value: (b) => formatAmount(b.availableBalance), align: 'right' },
      { header: 'updated', value: (b) => b.lastUpdatedAt },
      {
        header: 'stale',
        value: (b) => (b.stale ? `STALE (${(b.staleReasons ?? []).map(describeStale).join(', ')})` : ''),
      },
    ]),
  );
  lines.push(
    '',
    'Positions per currency and asset class (never summed across currencies; the cash position is the cash row)',
  );
  lines.push(
    renderTable(result.positions, [
      { header: 'currency', value: (p) => p.currency },
      { header: 'class', value: (p) => p.assetClass },
      { header: 'accounts', value: (p) => String(p.accounts), align: 'right' },
      { header: 'current', value: (p) => formatAmount(p.current), align: 'right' },
      { header: 'available', value: (p) => formatAmount(p.available), align: 'right' },
      { header: 'oldest balance', value: (p) => p.oldestBalanceAt },
      { header: 'stale', value: (p) => (p.staleAccounts > 0 ? `STALE ${p.staleAccounts}/${p.accounts}` : '') },
    ]),
  );
  if (data.storage) {
    lines.push(
      '',
      `Stored in ${result.tableName}: ${data.storage.historyWritten} history items, ` +
        `${data.storage.latestAdvanced} latest balances advanced, ${data.storage.latestStale} older snapshots ignored.`,
    );
  }
  const attempts = Object.entries(result.attempts)
    .map(([state, n]) => `${state} ×${n}`)
    .join(', ');
  lines.push(`Execution ${result.executionName}: ${result.transitions} state transitions (${attempts}).`);
  return lines.join('\n');
}

export function renderFanOutResult(result: LocalFanOutResult): string {
  const lines: string[] = [''];
  if (result.status !== 'SUCCEEDED' || !result.summary) {
    lines.push(`Fan-out FAILED with ${result.error}: ${result.cause ?? ''}`);
  } else {
    const s = result.summary;
    lines.push(`Fan-out: ${s.users} user(s) in ${s.pages} page(s): ${s.succeeded} succeeded, ${s.failed} failed.`);
    if (s.skippedFresh > 0) {
      lines.push(
        `${s.skippedFresh} user(s) skipped: every connection they have was fresh, due for Powens' own sync, waiting ` +
          'for the account holder or deleted (connection health).',
      );
    }
    if (s.failed > 0)
      lines.push(`Failed users: ${s.failedUserIds.join(', ')}${s.failedUserIdsTruncated ? ', ...' : ''}`);
  }
  const childTransitions = result.children.reduce((n, c) => n + c.transitions, 0);
  lines.push(
    `Execution ${result.executionName}: ${result.transitions} fan-out state transitions + ${childTransitions} in ` +
      `${result.children.length} child execution(s); largest fan-out state ${result.largestStateBytes} bytes.`,
  );
  return lines.join('\n');
}

function fanOutOptions(
  users: string,
  maxConcurrency: string | undefined,
  tolerated: string | undefined,
): Partial<LocalFanOutOptions> {
  const integer = (flag: string, raw: string, min: number, max: number): number => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max)
      throw new Error(`${flag} must be a whole number ${min}..${max}, got ${JSON.stringify(raw)}`);
    return value;
  };
  return {
    sandboxUsers: integer('--users', users, 1, 100_000),
    ...(maxConcurrency === undefined
      ? {}
      : { maxConcurrency: integer('--max-concurrency', maxConcurrency, 1, 10_000) }),
    ...(tolerated === undefined
      ? {}
      : { toleratedFailurePercentage: integer('--tolerated-failure-percentage', tolerated, 0, 100) }),
  };
}

function describeStale(reason: StaleReason): string {
  return reason === 'needs_user' ? 'connection needs the account holder' : 'too old';
}

function parseJsonOption(flag: string, raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch (error) {
    throw new Error(`${flag} must be JSON, got ${JSON.stringify(raw)} (${(error as Error).message})`);
  }
}

function numberOption<K extends string>(key: K, flag: string, raw: string | undefined): Partial<Record<K, number>> {
  if (raw === undefined) return {};
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${flag} must be a number ≥ 0, got ${JSON.stringify(raw)}`);
  return { [key]: value } as Partial<Record<K, number>>;
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Partial<Record<K, string>>);
}

if (require.main === module) runAsScript(main);
