import { RemovalPolicy, SecretValue } from 'aws-cdk-lib';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { Validations } from 'aws-cdk-lib';

/**
 * What the stack writes into a new secret: the shape of the Powens configuration, with no credential in it. Fill it
 * after deploy with `aws secretsmanager put-secret-value` (infra/DEPLOY.md). CloudFormation only rewrites the value
 * when this template changes, so a filled secret survives later deploys.
 */
export const POWENS_SECRET_TEMPLATE = {
  clientId: 'REPLACE_ME',
  clientSecret: 'REPLACE_ME',
  users: [{ userId: 0, token: 'REPLACE_ME', label: 'REPLACE_ME' }],
} as const;

export interface PowensSecretProps {
  /** Import this existing secret (by name) instead of creating one. */
  existingSecretName?: string;
}

/** Powens client credentials and user tokens: Secrets Manager only, never environment variables. */
export class PowensSecret extends Construct {
  readonly secret: ISecret;
  /**
   * What the Lambdas pass to GetSecretValue: the full ARN of a created secret; the NAME of an imported one (its CDK
   * ARN is partial, without the random suffix, and partial ARNs are ambiguous for Secrets Manager).
   */
  readonly secretId: string;

  constructor(scope: Construct, id: string, props: PowensSecretProps = {}) {
    super(scope, id);
    if (props.existingSecretName !== undefined) {
      this.secret = Secret.fromSecretNameV2(this, 'Imported', props.existingSecretName);
      this.secretId = props.existingSecretName;
      return;
    }
    const secret = new Secret(this, 'Secret', {
      description: 'Powens configuration {clientId, clientSecret, users:[{userId, token, label}]}; see infra/DEPLOY.md',
      // Placeholders only (no credential), so a plain-text template value is safe and keeps the JSON shape visible.
      secretStringValue: SecretValue.unsafePlainText(JSON.stringify(POWENS_SECRET_TEMPLATE, null, 2)),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Powens user tokens and client secrets are issued by Powens (console / auth flow); no Lambda can rotate them. ' +
        'They are replaced by hand with put-secret-value (infra/DEPLOY.md).',
    });
    this.secret = secret;
    this.secretId = secret.secretArn;
  }
}
