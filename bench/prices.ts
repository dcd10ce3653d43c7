/**
 * THE list prices the benchmarks turn usage into dollars with. One file so a price change is one edit, and every
 * figure in bench/results/*.json can be traced to a source and a date. Region us-east-1, no free tier applied
 * (a refresh-cost figure should not depend on how much of the free tier other workloads use).
 *
 * Values and sources come from a research note dated 2026-11-24 (AWS pricing pages, DynamoDB from a secondary
 * source; each price names its `source`). The note says "re-check before quoting": this machine has no internet, so
 * none was re-checked here.
 */
export interface ListPrice {
  /** US dollars per `unit`. */
  usd: number;
  unit: string;
  source: string;
  /** When the figure was taken from the source (ISO date), or the note's date. */
  asOf: string;
  note?: string;
}

export const PRICES_REGION = 'us-east-1';

export const PRICES = {
  stepFunctionsStandardTransition: {
    usd: 0.025 / 1000,
    unit: 'state transition (Standard workflow; each retry is a transition)',
    source: 'https://aws.amazon.com/step-functions/pricing/',
    asOf: '2026-11-24',
    note: '$0.025 per 1,000 transitions; 4,000 free per month not applied.',
  },
  lambdaRequest: {
    usd: 0.2 / 1_000_000,
    unit: 'Lambda request',
    source: 'https://docs.aws.amazon.com/whitepapers/latest/how-aws-pricing-works/lambda.html',
    asOf: '2026-11-24',
  },
  lambdaArm64GbSecond: {
    usd: 0.0000133334,
    unit: 'GB-second, arm64, first tier (1 ms billing granularity)',
    source: 'https://docs.aws.amazon.com/whitepapers/latest/how-aws-pricing-works/lambda.html',
    asOf: '2026-11-24',
    note: 'arm64 first-tier price from third-party tier summaries (docs/step-functions-notes.md §A4).',
  },
  dynamoDbWriteRequestUnit: {
    usd: 0.625 / 1_000_000,
    unit: 'on-demand write request unit (1 KB standard write)',
    source: 'https://docs.aws.amazon.com/whitepapers/latest/how-aws-pricing-works/amazon-dynamodb.html',
    asOf: '2026-11-24',
    note: 'Price effective 2024-11-01 (50% cut), from a secondary source (https://airbyte.com/data-engineering-resources/dynamodb-pricing); units from the AWS whitepaper.',
  },
  dynamoDbReadRequestUnit: {
    usd: 0.125 / 1_000_000,
    unit: 'on-demand read request unit (4 KB strongly consistent read; eventually consistent = 0.5)',
    source: 'https://docs.aws.amazon.com/whitepapers/latest/how-aws-pricing-works/amazon-dynamodb.html',
    asOf: '2026-11-24',
    note: 'Price effective 2024-11-01 (50% cut), from a secondary source (https://airbyte.com/data-engineering-resources/dynamodb-pricing).',
  },
} as const satisfies Record<string, ListPrice>;

/** Usage of one or more refreshes, in billable units. */
export interface BillableUsage {
  transitions: number;
  lambdaRequests: number;
  lambdaGbSeconds: number;
  writeRequestUnits: number;
  readRequestUnits: number;
}

export interface CostBreakdown {
  stepFunctions: number;
  lambdaRequests: number;
  lambdaDuration: number;
  dynamoDbWrites: number;
  dynamoDbReads: number;
  total: number;
}

/** Dollars for `usage` multiplied by `times` (e.g. usage of one refresh × 1,000). */
export function costOf(usage: BillableUsage, times = 1): CostBreakdown {
  const parts = {
    stepFunctions: usage.transitions * PRICES.stepFunctionsStandardTransition.usd * times,
    lambdaRequests: usage.lambdaRequests * PRICES.lambdaRequest.usd * times,
    lambdaDuration: usage.lambdaGbSeconds * PRICES.lambdaArm64GbSecond.usd * times,
    dynamoDbWrites: usage.writeRequestUnits * PRICES.dynamoDbWriteRequestUnit.usd * times,
    dynamoDbReads: usage.readRequestUnits * PRICES.dynamoDbReadRequestUnit.usd * times,
  };
  const total = Object.values(parts).reduce((sum, value) => sum + value, 0);
  return { ...parts, total };
}
