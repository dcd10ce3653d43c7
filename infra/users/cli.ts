/**
 * `npm run users -- <import|list> ...`: operator tool for the user registry (lambdas/core/adapters/dynamodb/user-registry.ts).
 *
 * `import <file>` moves users from the Powens secret's JSON ({clientId, clientSecret, users:[{userId, token, label}]})
 * into the registry, each token encrypted under {tenant, powensUser} with KMS (`--kms-key-id`) or a local key
 * (`--key-file`). It prints counts and user ids, never a token. Importing again replaces tokens and labels (idempotent); a user
 * already disabled in the registry (by an operator, or because Powens deleted it) stays disabled (`keptDisabled`).
 * Exit codes: 0 ok; 1 a user failed (the others are imported; rerun after fixing); 2 usage error or unreadable file.
 */
import '../local/node-compat';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createUserRegistry, type UserRegistry } from '../../lambdas/core/adapters/dynamodb/user-registry';
import { keyProviderFor } from '../../lambdas/core/adapters/keys/key-provider-for';
import { parsePowensSecret } from '../../lambdas/core/adapters/secrets/powens-secret';
import { localDynamoClients } from '../local/embedded-dynamodb';

const USAGE = `Usage: npm run users -- <command> [options]

Commands:
  import <file>   store every user of a Powens secret JSON file in the user registry (tokens encrypted)
  list            print the registered users (id, label, status; never tokens)

Options:
  --table-name NAME          the stack's table (output TableName)                       required
  --tenant-id ID             the tenant the users belong to (-c tenantId of the deploy)   required
  --kms-key-id ID            KMS key for tokens (output UserTokenKeyArn)  } exactly one for import
  --key-file FILE            local base64 32-byte key (npm start's)       }
  --aws-region REGION        real DynamoDB/KMS region (default credential chain)
  --dynamodb-endpoint URL    a local DynamoDB endpoint instead
  --json                     machine-readable output
  -h, --help                 this text
`;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface UsersCliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

export async function main(
  argv: readonly string[],
  io: UsersCliIo = { out: console.log, err: console.error },
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        'table-name': { type: 'string' },
        'tenant-id': { type: 'string' },
        'kms-key-id': { type: 'string' },
        'key-file': { type: 'string' },
        'aws-region': { type: 'string' },
        'dynamodb-endpoint': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
  } catch (error) {
    io.err(`error: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const [command, file, ...extra] = positionals;
  let registry: UserRegistry;
  let destroy = () => {};
  try {
    if (command !== 'import' && command !== 'list')
      throw new UsageError(`unknown command ${JSON.stringify(command ?? '')}`);
    if (command === 'import' && file === undefined) throw new UsageError('import needs a file');
    if (extra.length > 0 || (command === 'list' && file !== undefined))
      throw new UsageError(`unexpected argument ${JSON.stringify(extra[0] ?? file)}`);
    const tableName = values['table-name'];
    const tenantId = values['tenant-id'];
    if (!tableName) throw new UsageError('--table-name is required');
    if (!tenantId || !/^[A-Za-z0-9_.:-]{1,128}$/.test(tenantId))
      throw new UsageError('--tenant-id is required (1-128 of A-Z a-z 0-9 _ . : -)');
    const kmsKeyId = values['kms-key-id'];
    const keyFile = values['key-file'];
    if (kmsKeyId !== undefined && keyFile !== undefined)
      throw new UsageError('give --kms-key-id or --key-file, not both');
    if (command === 'import' && kmsKeyId === undefined && keyFile === undefined) {
      throw new UsageError('import needs --kms-key-id (AWS) or --key-file (local) to encrypt the tokens');
    }
    if (values['aws-region']) process.env.AWS_REGION = values['aws-region'];
    const endpoint = values['dynamodb-endpoint'];
    const client = endpoint ? localDynamoClients(endpoint).client : new DynamoDBClient({});
    destroy = () => client.destroy();
    const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    const keys =
      kmsKeyId !== undefined
        ? keyProviderFor({ kind: 'kms', keyId: kmsKeyId })
        : keyFile !== undefined
          ? keyProviderFor({ kind: 'local', keyFile })
          : undefined;
    // `list` never decrypts: without a key, any accidental token use fails loudly.
    registry = createUserRegistry({ client: doc, tableName, tenantId, ...(keys === undefined ? {} : { keys }) });
  } catch (error) {
    io.err(`error: ${(error as Error).message}\n\n${USAGE}`);
    destroy();
    return 2;
  }

  try {
    if (command === 'list') return await list(registry, values.json ?? false, io);
    return await importFile(registry, file as string, values.json ?? false, io);
  } finally {
    destroy();
  }
}

async function list(registry: UserRegistry, json: boolean, io: UsersCliIo): Promise<number> {
  const users = [];
  let cursor: string | undefined;
  do {
    const page = await registry.listPage({ limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
    users.push(...page.users);
    cursor = page.cursor;
  } while (cursor !== undefined);
  if (json) io.out(JSON.stringify({ users }, null, 2));
  else for (const u of users) io.out(`${u.userId}\t${u.status}\t${u.label ?? ''}`);
  return 0;
}

async function importFile(registry: UserRegistry, file: string, json: boolean, io: UsersCliIo): Promise<number> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (error) {
    io.err(`error: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`);
    return 2;
  }
  let users;
  try {
    ({ users } = parsePowensSecret(raw, `file ${file}`));
  } catch (error) {
    io.err(`error: ${(error as Error).message}`);
    return 2;
  }
  const result = {
    created: [] as number[],
    replaced: [] as number[],
    keptDisabled: [] as number[],
    failed: [] as { userId: number; error: string }[],
  };
  // One at a time: a few hundred users at most come from a secret, and a failure is attributed to its user.
  for (const user of users) {
    try {
      const { created, user: stored } = await registry.put(
        { userId: user.userId, token: user.token, ...(user.label === undefined ? {} : { label: user.label }) },
        // The secret's list predates the registry: it must not re-enable a user disabled since.
        { keepStatus: true },
      );
      (created ? result.created : result.replaced).push(user.userId);
      if (stored.status === 'disabled') result.keptDisabled.push(user.userId);
    } catch (error) {
      // Our errors never quote the token (validation names fields; SDK errors name the operation).
      result.failed.push({ userId: user.userId, error: `${(error as Error).name}: ${(error as Error).message}` });
    }
  }
  if (json) io.out(JSON.stringify(result, null, 2));
  else {
    io.out(
      `imported ${result.created.length + result.replaced.length} of ${users.length} users into tenant ${registry.tenantId} ` +
        `(created ${result.created.length}, replaced ${result.replaced.length}, failed ${result.failed.length})`,
    );
    if (result.keptDisabled.length > 0) io.out(`kept disabled: ${result.keptDisabled.join(', ')}`);
    for (const f of result.failed) io.out(`  user ${f.userId}: ${f.error}`);
    if (result.failed.length === 0) {
      io.out(
        'Next: remove `users` from the Powens secret (the step Lambdas read the registry; the secret keeps clientId/clientSecret).',
      );
    }
  }
  return result.failed.length === 0 ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      // SDK failures (credentials, table not found...): their messages name operations and resources, never tokens.
      console.error(`error: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
      process.exitCode = 1;
    },
  );
}
