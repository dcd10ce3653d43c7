import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE_KEYS } from '../../lambdas/core/adapters/dynamodb/table-schema';

/**
 * The single balances table (key design: lambdas/core/adapters/dynamodb/table-schema.ts).
 * - On demand: a few hundred writes twice a day; provisioned capacity would idle.
 * - Point-in-time recovery: balance history is the product; a bad deploy must be reversible.
 * - TTL on `expiresAt`: history, PSD2 slots and idempotency marks expire; latest items have no TTL.
 * - Encryption with the AWS-managed key (aws/dynamodb): encryption at rest and key use in CloudTrail at no key cost;
 *   access is governed by IAM on the table. A customer-managed key ($1/month + requests) only pays off when key
 *   revocation separate from IAM or cross-account key control is required, which this single-account app does not.
 * - RETAIN: deleting the stack must never delete bank history.
 */
export class BalancesTable extends Construct {
  readonly table: TableV2;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE_KEYS.ttlAttribute,
      encryption: TableEncryptionV2.awsManagedKey(),
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
