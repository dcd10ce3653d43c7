import { RemovalPolicy } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/**
 * The customer-managed KMS key that encrypts Powens user tokens in the user registry. Rotated yearly (old ciphertexts
 * still decrypt), retained on stack deletion: deleting it would make every stored token unrecoverable. Functions get
 * Encrypt (API) or Decrypt (steps) for their tenant's encryption context only (NodeFunction.useTokenKey).
 */
export class UserTokenKey extends Construct {
  readonly key: Key;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.key = new Key(this, 'Key', {
      description: 'Powens user tokens in the user registry (encryption context: tenant, powensUser)',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
