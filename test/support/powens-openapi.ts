/**
 * Validates JSON against Powens' own OpenAPI (the *.yml of powenscompany/powens-sdks) so the sandbox cannot drift from
 * the real response shapes without a test failing.
 *
 * The OpenAPI is not part of this repository. It is found via POWENS_OPENAPI_DIR, else in ../shared/powens-openapi
 * beside the repository root (computed from this file, not from the working directory). When neither exists, the
 * checks against it are skipped with a printed reason; the rest of the suite still checks the sandbox's shapes
 * (lambdas/core/adapters/powens/types.ts, test/unit/powens/sandbox-data.test.ts).
 *
 * The YAML is OpenAPI 3.0/3.1 hybrid and not valid JSON Schema as is, so it is normalised before ajv sees it. Each
 * change is listed in OPENAPI_DEVIATIONS; everything else (required fields, types, patterns, enums) is enforced as
 * Powens wrote it — where the OpenAPI requires a field the fact sheet calls optional (e.g. BankAccount.id_source,
 * usage, bookmarked as boolean, BankAccountsList.balances), the sandbox follows the OpenAPI.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path, { join } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import { parse } from 'yaml';

const REPO_ROOT = path.resolve(__dirname, '../..');

export type PowensOpenApiLocation = { dir: string } | { dir: undefined; reason: string };

/**
 * Where Powens' OpenAPI is: POWENS_OPENAPI_DIR when set (an error if it holds no *.yml: an explicit setting that
 * points nowhere is a mistake, not a reason to skip), else ../shared/powens-openapi beside the repository root.
 */
export function locatePowensOpenApi(
  env: NodeJS.ProcessEnv = process.env,
  repoRoot: string = REPO_ROOT,
): PowensOpenApiLocation {
  const configured = env.POWENS_OPENAPI_DIR;
  if (configured !== undefined && configured !== '') {
    if (!hasYaml(configured)) throw new Error(`POWENS_OPENAPI_DIR=${configured} holds no Powens OpenAPI *.yml`);
    return { dir: configured };
  }
  const beside = path.resolve(repoRoot, '..', 'shared', 'powens-openapi');
  if (hasYaml(beside)) return { dir: beside };
  return {
    dir: undefined,
    reason: `Powens OpenAPI not found (POWENS_OPENAPI_DIR unset, nothing in ${beside}): response shapes are not checked against it`,
  };
}

function hasYaml(dir: string): boolean {
  return existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.yml'));
}

export const OPENAPI_DEVIATIONS: readonly string[] = [
  'YAML `type: null` (a YAML null, not the string) is read as JSON Schema type "null" — the obvious intent.',
  'OpenAPI 3.0 `nullable: true` becomes an added "null" type (and null in `enum` when one is present).',
  '`oneOf` becomes `anyOf`: Powens writes `oneOf: [ConnectionState, null]` where ConnectionState itself admits null, so a null state would match both branches and fail `oneOf`.',
  'ConnectionState enum gains null (its own `type` admits null and `Connection.error: null` is the success value) and `notSupported` (documented state, D4).',
  'ServiceErrorCode enum is dropped: Powens documents codes missing from it (notFound, invalidValue, missingParameter, methodNotAllowed — D2) and says unknown codes must be handled.',
  'Formats (int64, sql-date-time, monetary, iban...) are not checked; the explicit `pattern`s on DateTimes still are.',
];

export type PowensSchemaName =
  | 'Connection'
  | 'ConnectionsList'
  | 'BankAccount'
  | 'BankAccountsList'
  | 'ServiceError'
  | 'User'
  | 'AccessToken'
  | 'ExchangeAccessToken';

const SCHEMA_REFS: Record<PowensSchemaName, string> = {
  Connection: 'connections.yml#/components/schemas/Connection',
  ConnectionsList: 'connections.yml#/components/schemas/ConnectionsList',
  BankAccount: 'bank-accounts.yml#/components/schemas/BankAccount',
  BankAccountsList: 'bank-accounts.yml#/components/schemas/BankAccountsList',
  ServiceError: 'core.yml#/components/schemas/ServiceError',
  User: 'users.yml#/components/schemas/User',
  AccessToken: 'authentication.yml#/components/schemas/AccessToken',
  ExchangeAccessToken: 'authentication.yml#/components/schemas/ExchangeAccessToken',
};

type Json = unknown;

function normalise(node: Json, path: string[]): Json {
  if (Array.isArray(node)) return node.map((item, i) => normalise(item, [...path, String(i)]));
  if (typeof node !== 'object' || node === null) return node;
  const src = node as Record<string, Json>;
  const out: Record<string, Json> = {};
  for (const [key, value] of Object.entries(src)) {
    if (key === 'oneOf') out.anyOf = normalise(value, [...path, key]);
    else out[key] = normalise(value, [...path, key]);
  }
  if ('type' in src) {
    const type = src.type;
    if (type === null) out.type = 'null';
    else if (Array.isArray(type)) out.type = type.map((t) => (t === null ? 'null' : t));
  }
  if (out.nullable === true) {
    delete out.nullable;
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    else if (Array.isArray(out.type) && !out.type.includes('null')) out.type = [...(out.type as string[]), 'null'];
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...(out.enum as Json[]), null];
    if (out.type === undefined) {
      // `$ref` / `anyOf` + nullable: wrap, since a sibling `type` would constrain the referenced schema.
      return { anyOf: [out, { type: 'null' }] };
    }
  }
  const name = path[path.length - 1];
  const inSchemas = path[path.length - 2] === 'schemas';
  if (inSchemas && name === 'ConnectionState' && Array.isArray(out.enum)) {
    out.enum = [...(out.enum as Json[]), 'notSupported', null];
  }
  if (inSchemas && name === 'ServiceErrorCode') delete out.enum;
  return out;
}

export interface PowensOpenApiChecker {
  /** Returns human-readable errors ("/accounts/0/usage must be equal to one of the allowed values"); [] if valid. */
  validate(name: PowensSchemaName, value: unknown): string[];
  /** Throws with every error and the offending JSON, for use in tests. */
  assertValid(name: PowensSchemaName, value: unknown): void;
}

export function loadPowensOpenApi(dir: string): PowensOpenApiChecker {
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true, validateSchema: false });
  const files = readdirSync(dir).filter((f) => f.endsWith('.yml'));
  if (files.length === 0) throw new Error(`No Powens OpenAPI *.yml in ${dir}`);
  for (const file of files) {
    const doc = parse(readFileSync(join(dir, file), 'utf8')) as Json;
    ajv.addSchema(normalise(doc, []) as object, file);
  }
  const validators = new Map<PowensSchemaName, ValidateFunction>();
  const validatorFor = (name: PowensSchemaName): ValidateFunction => {
    let fn = validators.get(name);
    if (!fn) {
      fn = ajv.compile({ $ref: SCHEMA_REFS[name] });
      validators.set(name, fn);
    }
    return fn;
  };
  const checker: PowensOpenApiChecker = {
    validate(name, value) {
      const fn = validatorFor(name);
      if (fn(value)) return [];
      return (fn.errors ?? []).map(
        (e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'} ${JSON.stringify(e.params)}`,
      );
    },
    assertValid(name, value) {
      const errors = checker.validate(name, value);
      if (errors.length > 0) {
        throw new Error(
          `Response does not match Powens OpenAPI ${name}:\n  ${errors.join('\n  ')}\n${JSON.stringify(value, null, 2).slice(0, 2000)}`,
        );
      }
    },
  };
  return checker;
}

export interface OptionalPowensOpenApi {
  /** Undefined when the OpenAPI is absent (the reason was printed once). */
  checker: PowensOpenApiChecker | undefined;
  /** Asserts `value` matches the schema when the OpenAPI is present; does nothing otherwise. */
  assertValid(name: PowensSchemaName, value: unknown): void;
  /** `describe` when the OpenAPI is present, `describe.skip` otherwise (for tests only about the OpenAPI). */
  describe: jest.Describe;
}

/** For test files that check the sandbox against the OpenAPI among other things: prints why when it is absent. */
export function optionalPowensOpenApi(): OptionalPowensOpenApi {
  const location = locatePowensOpenApi();
  if (location.dir === undefined) {
    process.stderr.write(`[skipped checks] ${location.reason}\n`);
    return { checker: undefined, assertValid: () => undefined, describe: describe.skip };
  }
  const checker = loadPowensOpenApi(location.dir);
  return { checker, assertValid: (name, value) => checker.assertValid(name, value), describe };
}
