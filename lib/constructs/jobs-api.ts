import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ROUTES } from '../../lambdas/api/routes';
import type { JobRoles } from '../../lambdas/shared/model/worst-cases';
import { WorkflowFunction } from './workflow-function';

export interface JobsApiProps {
  /** Where jobs are stored (the api function reads and writes job and idempotency-key items). */
  readonly table: ITable;
  /** The orchestrator state machine the API starts and stops. */
  readonly stateMachine: IStateMachine;
  /** The batch state machine `POST /batches` starts. */
  readonly batchStateMachine: IStateMachine;
  /** The folder of batch definitions, bundled with the api function so a run can name one. */
  readonly batchesDir: string;
  /** Steady-state requests per second of the usage plan. */
  readonly throttleRateLimit: number;
  /** Burst of the usage plan. */
  readonly throttleBurstLimit: number;
  /** Requests per day per API key. */
  readonly quotaPerDay: number;
  /** Largest request body the api function accepts, in bytes (API Gateway's own cap is 10 MB). */
  readonly maxBodyBytes: number;
  readonly jobTtlDays: number;
  /** Most items one batch run may have (the deployment's batch Map decides). */
  readonly batchMaxItems: number;
  /**
   * Whether runs may ask for the Message Batches lane (`modelCalls` `batch`).
   * @default true
   */
  readonly batchLane?: boolean;
  /** The worker's and synthesis's calls, to re-estimate a plan a person trimmed. */
  readonly jobRoles: JobRoles;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Set the account's API Gateway CloudWatch Logs role (per region, shared by every REST API there) to
   * one this construct creates and retains on deletion; access logging is refused without it.
   * @default true
   */
  readonly cloudWatchRole?: boolean;
}

/** The documented error shape, for responses API Gateway produces before the function runs. */
const errorTemplate = (code: string, message: string) => ({
  'application/json': JSON.stringify({ error: { code, message } }),
});

/**
 * The same shape with API Gateway's own message: `$context.error.messageString` is already a quoted
 * JSON string, so it goes in without quotes of its own.
 */
const errorTemplateWithGatewayMessage = (code: string) => ({
  'application/json': `{"error":{"code":${JSON.stringify(code)},"message":$context.error.messageString}}`,
});

/**
 * The jobs API: an API Gateway REST API whose routes (from the shared route table) all go to one
 * `api` function, every method requiring an API key, with a usage plan, access logging and tracing.
 */
export class JobsApi extends Construct {
  public readonly api: apigateway.RestApi;
  public readonly apiFunction: WorkflowFunction;
  public readonly apiKey: apigateway.IApiKey;
  public readonly usagePlan: apigateway.UsagePlan;

  constructor(scope: Construct, id: string, props: JobsApiProps) {
    super(scope, id);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    this.apiFunction = new WorkflowFunction(this, 'ApiFunction', {
      entry: path.join(__dirname, '..', '..', 'lambdas', 'api', 'handler.ts'),
      description: 'Jobs API: starts, lists, reads and cancels jobs; runs batches',
      timeout: Duration.seconds(15),
      memorySize: 512,
      logRetention,
      environment: {
        TABLE_NAME: props.table.tableName,
        STATE_MACHINE_ARN: props.stateMachine.stateMachineArn,
        BATCH_STATE_MACHINE_ARN: props.batchStateMachine.stateMachineArn,
        BATCHES_DIR: 'batches',
        MAX_BODY_BYTES: String(props.maxBodyBytes),
        BATCH_MAX_ITEMS: String(props.batchMaxItems),
        BATCH_LANE: String(props.batchLane ?? true),
        JOB_TTL_DAYS: String(props.jobTtlDays),
        WORKER_MODEL: props.jobRoles.worker.model,
        WORKER_MAX_TOKENS: String(props.jobRoles.worker.maxTokens),
        SYNTHESIS_MODEL: props.jobRoles.synthesis.model,
        SYNTHESIS_MAX_TOKENS: String(props.jobRoles.synthesis.maxTokens),
      },
      bundledFolder: { from: props.batchesDir, into: 'batches' },
    });
    props.table.grant(
      this.apiFunction,
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:Query',
    );
    props.stateMachine.grantStartExecution(this.apiFunction);
    props.stateMachine.grantExecution(this.apiFunction, 'states:StopExecution');
    // Answering AwaitApproval's task token: these two actions, on this state machine only.
    this.apiFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
        resources: [props.stateMachine.stateMachineArn],
      }),
    );
    props.batchStateMachine.grantStartExecution(this.apiFunction);

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.api = new apigateway.RestApi(this, 'Api', {
      description: 'Orchestrator-workers jobs API',
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      // The account setting is made below, with a role of our own (no managed policy).
      cloudWatchRole: false,
      deployOptions: {
        stageName: 'v1',
        tracingEnabled: true,
        throttlingRateLimit: props.throttleRateLimit,
        throttlingBurstLimit: props.throttleBurstLimit,
        accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
      },
      defaultMethodOptions: { apiKeyRequired: true },
    });

    if (props.cloudWatchRole ?? true) this.setAccountLoggingRole();

    const integration = new apigateway.LambdaIntegration(this.apiFunction, { proxy: true });
    const resources = new Map<string, apigateway.IResource>([['/', this.api.root]]);
    const resourceFor = (resourcePath: string): apigateway.IResource => {
      const existing = resources.get(resourcePath);
      if (existing) return existing;
      const parentPath = resourcePath.slice(0, resourcePath.lastIndexOf('/')) || '/';
      const created = resourceFor(parentPath).addResource(
        resourcePath.slice(resourcePath.lastIndexOf('/') + 1),
      );
      resources.set(resourcePath, created);
      return created;
    };
    for (const route of ROUTES)
      resourceFor(route.resource).addMethod(route.method, integration, { operationName: route.operation });

    // Answers API Gateway gives on its own, in the same error shape as the function's.
    this.api.addGatewayResponse('InvalidApiKey', {
      type: apigateway.ResponseType.INVALID_API_KEY,
      statusCode: '403',
      templates: errorTemplate('INVALID_API_KEY', 'Missing or invalid x-api-key header'),
    });
    this.api.addGatewayResponse('UnknownRoute', {
      type: apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN,
      statusCode: '404',
      templates: errorTemplate('ROUTE_NOT_FOUND', 'No such route'),
    });
    this.api.addGatewayResponse('Throttled', {
      type: apigateway.ResponseType.THROTTLED,
      statusCode: '429',
      templates: errorTemplate('THROTTLED', 'Too many requests; slow down'),
    });
    this.api.addGatewayResponse('QuotaExceeded', {
      type: apigateway.ResponseType.QUOTA_EXCEEDED,
      statusCode: '429',
      templates: errorTemplate('QUOTA_EXCEEDED', 'Daily request quota used up'),
    });
    this.api.addGatewayResponse('Default4xx', {
      type: apigateway.ResponseType.DEFAULT_4XX,
      templates: errorTemplateWithGatewayMessage('BAD_REQUEST'),
    });
    this.api.addGatewayResponse('Default5xx', {
      type: apigateway.ResponseType.DEFAULT_5XX,
      templates: errorTemplate('INTERNAL_ERROR', 'The API failed; try again later'),
    });

    this.apiKey = this.api.addApiKey('ApiKey', { description: 'Key for the jobs API' });
    this.usagePlan = this.api.addUsagePlan('UsagePlan', {
      description: 'Throttling and daily quota for the jobs API',
      throttle: { rateLimit: props.throttleRateLimit, burstLimit: props.throttleBurstLimit },
      quota: { limit: props.quotaPerDay, period: apigateway.Period.DAY },
    });
    this.usagePlan.addApiKey(this.apiKey);
    this.usagePlan.addApiStage({ stage: this.api.deploymentStage });
  }

  /**
   * API Gateway refuses a stage with access logging until the account (per region) names a role it
   * may write logs with. That setting is shared by every REST API in the region, so the role and the
   * setting are retained when the stack is deleted: other APIs may have come to rely on them.
   */
  private setAccountLoggingRole(): void {
    const stack = Stack.of(this);
    const role = new iam.Role(this, 'CloudWatchRole', {
      assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      description: "API Gateway's account-wide role for writing access and execution logs in this region",
      inlinePolicies: {
        PushToCloudWatchLogs: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              // The actions of the AWS-managed AmazonAPIGatewayPushToCloudWatchLogs, this account's log groups only.
              actions: [
                'logs:CreateLogGroup',
                'logs:CreateLogStream',
                'logs:DescribeLogGroups',
                'logs:DescribeLogStreams',
                'logs:PutLogEvents',
                'logs:GetLogEvents',
                'logs:FilterLogEvents',
              ],
              resources: [`arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:*`],
            }),
          ],
        }),
      },
    });
    role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    const account = new apigateway.CfnAccount(this, 'Account', { cloudWatchRoleArn: role.roleArn });
    account.applyRemovalPolicy(RemovalPolicy.RETAIN);
    this.api.deploymentStage.node.addDependency(account);
  }
}
