/**
 * Asset class of an account, from its Powens account type (`BankAccountTypeName`). Dashboards total money per
 * currency AND class, so a brokerage portfolio, a life-insurance contract or a loan is never read as cash.
 *
 * - `cash`: money at the bank in the account's currency, nominal value, no market risk: `checking`, `joint` (a joint
 *   checking account), `savings` (passbooks, interest-bearing savings) and `deposit`. **Term deposits** (Powens type
 *   `deposit`, "dépôt/compte à terme") are cash: capital-guaranteed bank deposits with a fixed nominal amount, which a
 *   treasurer counts in cash and cash equivalents, not in portfolios whose value moves with markets. They may be
 *   locked until maturity and Powens gives no maturity date, so each balance also keeps its Powens type
 *   (`accountType`): a dashboard that wants immediately available money filters `deposit` out of `cash`.
 * - `card`: deferred-debit cards. Their (negative) balance is what will be debited from the parent checking account
 *   at the end of the period: a short-term liability, shown beside cash rather than inside it, because the checking
 *   balance does not include it yet.
 * - `investment`: every type Powens flags `is_invest` (securities, life insurance, retirement and employee savings
 *   plans, crowdlending, real-estate placements): valued at market or contract value, not spendable cash.
 * - `loan`: money owed (negative balance or outstanding capital), never netted against cash.
 * - `unknown`: Powens' own `unknown` type and any type Powens adds after this table was written. Never counted as
 *   cash: an unclassified balance in the cash total would be worse than a visible "unknown" row.
 */
import type { PowensAccountType } from '../adapters/powens/types';

export const ASSET_CLASSES = ['cash', 'card', 'investment', 'loan', 'unknown'] as const;
export type AssetClass = (typeof ASSET_CLASSES)[number];

/**
 * Every value of Powens' `BankAccountTypeName` enum with its class. A unit test compares the keys with the OpenAPI
 * enum when the OpenAPI is available, so a type Powens adds is noticed (until then it is `unknown`).
 */
export const POWENS_ACCOUNT_TYPE_CLASSES = {
  checking: 'cash',
  joint: 'cash',
  savings: 'cash',
  deposit: 'cash',
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
} as const satisfies Readonly<Record<string, AssetClass>>;

type KnownPowensAccountType = keyof typeof POWENS_ACCOUNT_TYPE_CLASSES;

export function isAssetClass(value: unknown): value is AssetClass {
  return typeof value === 'string' && (ASSET_CLASSES as readonly string[]).includes(value);
}

/** A type missing from the table (null, a future Powens type) is `unknown`, never `cash`. */
export function assetClassOf(type: PowensAccountType | null | undefined): AssetClass {
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(POWENS_ACCOUNT_TYPE_CLASSES, type))
    return 'unknown';
  return POWENS_ACCOUNT_TYPE_CLASSES[type as KnownPowensAccountType];
}
