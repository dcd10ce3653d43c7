import { readFileSync } from 'node:fs';
import {
  GENERATED_VALIDATOR_FILE,
  generateRefreshInputValidator,
  refreshInputAjv,
  refreshInputSchemaForAjv,
} from '../../../infra/codegen/refresh-input-validator';
import { validateRefreshInput } from '../../../lambdas/core/domain/refresh-input-validator';

// The Lambdas validate with code ajv generated at build time; these tests keep it honest against the schema.
describe('build-time RefreshInput validator', () => {
  it('is up to date with REFRESH_INPUT_SCHEMA and the installed ajv (else run: npx tsx infra/codegen/refresh-input-validator.ts)', () => {
    expect(readFileSync(GENERATED_VALIDATOR_FILE, 'utf8')).toBe(generateRefreshInputValidator());
  });

  const runtime = refreshInputAjv().compile(refreshInputSchemaForAjv());
  const documents: unknown[] = [
    {},
    { userIds: [1, 2], connectionIds: [3], psuRequested: true, requestId: 'abc_DEF-1' },
    { userIds: [] },
    { userIds: [1, 1] },
    { userIds: [0, 1.5, '2'] },
    { connectionIds: Array.from({ length: 501 }, (_, i) => i + 1) },
    { requestId: 'has space' },
    { requestId: 'x'.repeat(65) },
    { psuRequested: 'yes', extra: 1, other: null },
    [],
    null,
    'text',
  ];

  it.each(documents.map((doc) => [JSON.stringify(doc)?.slice(0, 60) ?? String(doc), doc]))(
    'answers like ajv compiling the schema at run time: %s',
    (_label, doc) => {
      const expected = runtime(doc);
      expect(validateRefreshInput(doc)).toBe(expected);
      expect(validateRefreshInput.errors ?? null).toEqual(runtime.errors ?? null);
    },
  );

  it('reports every problem at once (allErrors)', () => {
    expect(validateRefreshInput({ userIds: [0], requestId: '!', extra: true })).toBe(false);
    expect(validateRefreshInput.errors?.map((e) => e.keyword).sort()).toEqual([
      'additionalProperties',
      'minimum',
      'pattern',
    ]);
  });
});
