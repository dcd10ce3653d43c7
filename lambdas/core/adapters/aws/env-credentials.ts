/**
 * What Lambda bundles get instead of `@aws-sdk/credential-provider-node` (infra/bundling.ts aliases that package to
 * this file): credentials from the environment only, which is where the Lambda runtime puts the execution role's
 * credentials. The SDK's default chain also knows SSO, profiles, web identity, ECS/IMDS and STS; bundled, those were
 * 447 → 325 KB of a step bundle (STS and SSO clients included; bench/README.md) and their import time, for sources
 * a Lambda never uses.
 *
 * Same contract as the package's `defaultProvider(init)`: each client calls it once with its config and memoizes the
 * returned provider. Only bundles use it; code run from TypeScript (tests, the local runner's own clients) keeps the
 * SDK's default chain. The local runner gives its Lambda workers credentials in the environment, as Lambda does.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

export function defaultProvider(): AwsCredentialIdentityProvider {
  return async (): Promise<AwsCredentialIdentity> => {
    const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) {
      throw new Error(
        'No AWS credentials in the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY): Lambda sets them from the ' +
          'execution role; a local run must set them too.',
      );
    }
    const sessionToken = process.env.AWS_SESSION_TOKEN;
    const expiration = process.env.AWS_CREDENTIAL_EXPIRATION;
    return {
      accessKeyId,
      secretAccessKey,
      ...(sessionToken ? { sessionToken } : {}),
      ...(expiration ? { expiration: new Date(expiration) } : {}),
    };
  };
}
