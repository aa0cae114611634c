import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as path from 'node:path';
import { Construct } from 'constructs';
import type { ModelProvider } from '../config';

/** The newest Node.js runtime this CDK version offers. */
export const FUNCTION_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** CloudWatch namespace of the functions' custom metrics (model latency, tokens, cost, failures). */
export const METRICS_NAMESPACE = 'OrchestratorWorkers';

/**
 * The Powertools settings of every function. The service name is the stack's, so two deployments in
 * one account publish under different `service` dimensions.
 */
export function powertoolsEnvironment(scope: Construct): Record<string, string> {
  return {
    POWERTOOLS_SERVICE_NAME: Stack.of(scope).stackName,
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    LOG_LEVEL: 'INFO',
  };
}

/**
 * Packages left out of the bundles because the Node.js runtime ships them (AWS SDK v3): the service
 * clients the functions use and the DynamoDB document client. Leaving them out takes the worker
 * bundle from 1.7 MB to about 0.8 MB and its module initialisation down with it. The price is running
 * on the runtime's SDK version rather than the one in package-lock.json; the calls made (DynamoDB,
 * Step Functions, S3, Secrets Manager, Bedrock InvokeModel) are long-stable. Deprecated helpers that
 * newer runtimes may no longer ship (e.g. `@aws-sdk/util-utf8-browser`, used by a Bedrock SDK
 * dependency) stay bundled, which is why this is a list and not `@aws-sdk/*`.
 */
export const RUNTIME_PROVIDED_MODULES = [
  '@aws-sdk/client-*',
  '@aws-sdk/lib-dynamodb',
  '@aws-sdk/credential-providers',
] as const;

/** esbuild settings of every function's bundle (`npm run bench` builds with the same ones). */
export const FUNCTION_BUNDLING = {
  minify: true,
  sourceMap: true,
  target: 'node24',
  externalModules: [...RUNTIME_PROVIDED_MODULES],
} as const;

/** The Bedrock SDK's stand-in for `anthropic` deployments (an esbuild alias). */
export const BEDROCK_SDK_STUB = path.join(
  __dirname,
  '..',
  '..',
  'lambdas',
  'shared',
  'model',
  'bedrock-sdk-not-bundled.ts',
);

/**
 * esbuild aliases for a deployment's model provider: with `anthropic`, the Bedrock SDK and its AWS
 * dependencies (about 240 KB of each model function's bundle) are replaced by a stub that fails
 * clearly if ever constructed.
 */
export function providerAliases(provider: ModelProvider | undefined): Record<string, string> {
  return provider === 'anthropic' ? { '@anthropic-ai/bedrock-sdk': BEDROCK_SDK_STUB } : {};
}

export interface WorkflowFunctionProps {
  /** Path to the handler module (`lambdas/<fn>/handler.ts`); the local runtime binds to the same file. */
  readonly entry: string;
  readonly description: string;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /** @default {} */
  readonly environment?: Record<string, string>;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * A folder copied into the bundle (`into`, relative to the function's root), for data the code reads.
   * @default nothing is copied
   */
  readonly bundledFolder?: { readonly from: string; readonly into: string };
  /**
   * The deployment's model provider; with `anthropic` the bundle leaves the Bedrock SDK out.
   * @default both providers' SDKs are bundled
   */
  readonly modelProvider?: ModelProvider;
}

/**
 * A Lambda function with the settings every workflow function shares: newest Node.js runtime, arm64,
 * X-Ray tracing, Powertools settings, its own log group with retention, and esbuild bundling
 * (minified, source maps, never Docker).
 */
export class WorkflowFunction extends nodejs.NodejsFunction {
  /** The handler module this function runs, exposed so the local runtime can bind to it. */
  public readonly entry: string;

  constructor(scope: Construct, id: string, props: WorkflowFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Its own role, allowed to write to its own log group only (not the account-wide managed policy).
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs ${props.description.toLowerCase()}`.slice(0, 1000),
    });
    logGroup.grantWrite(role);
    super(scope, id, {
      role,
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: FUNCTION_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        ...powertoolsEnvironment(scope),
        ...props.environment,
      },
      bundling: {
        ...FUNCTION_BUNDLING,
        externalModules: [...FUNCTION_BUNDLING.externalModules],
        forceDockerBundling: false,
        esbuildArgs: Object.fromEntries(
          Object.entries(providerAliases(props.modelProvider)).map(([from, to]) => [`--alias:${from}`, to]),
        ),
        ...(props.bundledFolder ? { commandHooks: copyFolderHooks(props.bundledFolder) } : {}),
      },
    });
    this.entry = props.entry;
  }
}

function copyFolderHooks(folder: { from: string; into: string }): nodejs.ICommandHooks {
  return {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (_inputDir, outputDir) => [
      `mkdir -p "${outputDir}/${folder.into}" && cp -R "${folder.from}/." "${outputDir}/${folder.into}/"`,
    ],
  };
}
