/**
 * Asset class of every Powens account type. The expected class of each type is written out here (a specification,
 * not a copy of the product table), and the product table must cover exactly Powens' `BankAccountTypeName` enum:
 * read from the OpenAPI when it is available (POWENS_OPENAPI_DIR or ../shared beside the repo), else skipped saying why.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ASSET_CLASSES, POWENS_ACCOUNT_TYPE_CLASSES, assetClassOf } from '../../../lambdas/core/domain/asset-class';
import { locatePowensOpenApi } from '../../support/powens-openapi';

const EXPECTED: Record<string, (typeof ASSET_CLASSES)[number]> = {
  checking: 'cash',
  joint: 'cash',
  savings: 'cash',
  deposit: 'cash', // term deposits: nominal bank money (README "Data model")
  card: 'card',
  market: 'investment',
  pea: 'investment',
  lifeinsurance: 'investment',
  capitalisation: 'investment',
  per: 'investment',
  perp: 'investment',
  perco: 'investment',
  pee: 'investment',
  madelin: 'investment',
  article83: 'investment',
  rsp: 'investment',
  crowdlending: 'investment',
  real_estate: 'investment',
  loan: 'loan',
  unknown: 'unknown',
};

describe('asset class per Powens account type', () => {
  it.each(Object.entries(EXPECTED))('%s → %s', (type, assetClass) => {
    expect(assetClassOf(type)).toBe(assetClass);
  });

  it('the static table has exactly the types specified above', () => {
    expect(Object.keys(POWENS_ACCOUNT_TYPE_CLASSES).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it('a type Powens adds later, null or a prototype key is unknown, never cash', () => {
    for (const type of ['crypto', 'CHECKING', '', null, undefined, 'toString', '__proto__']) {
      expect(assetClassOf(type)).toBe('unknown');
    }
  });

  it('loans and market accounts are never cash', () => {
    expect(assetClassOf('loan')).not.toBe('cash');
    expect(assetClassOf('market')).not.toBe('cash');
  });

  const location = locatePowensOpenApi();
  if (location.dir === undefined)
    process.stderr.write(`[skipped checks] ${location.reason}: the account-type enum is not compared\n`);
  const typesFile = location.dir === undefined ? undefined : join(location.dir, 'bank-account-types.yml');
  (typesFile === undefined ? it.skip : it)(
    "covers every value of Powens' BankAccountTypeName enum, and only those",
    () => {
      const doc = parse(readFileSync(typesFile as string, 'utf8')) as {
        components: { schemas: { BankAccountTypeName: { enum: string[] } } };
      };
      const powensEnum = doc.components.schemas.BankAccountTypeName.enum;
      expect(powensEnum.length).toBeGreaterThan(10);
      expect(Object.keys(POWENS_ACCOUNT_TYPE_CLASSES).sort()).toEqual([...powensEnum].sort());
      for (const type of powensEnum) expect(ASSET_CLASSES).toContain(assetClassOf(type));
    },
  );
});
