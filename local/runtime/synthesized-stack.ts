import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { type LocalRole, roleLogicalIdOf, rolesFromTemplate } from './iam-roles';

// What the local runtime takes from a synthesized template, with no import of aws-cdk-lib: a local
// run loads a cached template (template-cache.ts) and needs the CDK only when the cache misses
// (synthesis.ts).

/** The account and region local ARNs are made in; nothing here talks to AWS. */
export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_REGION = 'us-east-1';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Record<string, Json> }>;
}

export interface LocalFunctionSpec {
  logicalId: string;
  arn: string;
  /** The handler module the deployed function is bundled from. */
  entry: string;
  environment: Record<string, string>;
  timeoutSeconds: number;
  /** Logical id of the function's execution role. */
  roleLogicalId: string;
}

export interface LocalStateMachineSpec {
  logicalId: string;
  /** The local name (the ARN's last part); CloudFormation would generate one when deployed. */
  name: string;
  /** The definition from the template, with ARNs resolved to local ones. */
  definition: Record<string, unknown>;
  /** Logical id of the state machine's role. */
  roleLogicalId: string;
}

export interface LocalScheduleSpec {
  logicalId: string;
  /** The target's ARN (a state machine), resolved. */
  targetArn: string;
  roleLogicalId: string;
  groupName: string;
}

/** An EventBridge rule of the template, with its ARNs resolved to local ones. */
export interface LocalEventRuleSpec {
  logicalId: string;
  arn: string;
  eventPattern: Record<string, unknown>;
  /** The ARNs of the functions it invokes. */
  targets: string[];
}

/** A statement of a function's resource-based policy (`AWS::Lambda::Permission`), resolved. */
export interface LocalLambdaPermission {
  functionArn: string;
  action: string;
  principal: string;
  sourceArn?: string;
  sourceAccount?: string;
}

export interface SynthesizedStack {
  template: CfnTemplate;
  /** The orchestrator state machine (also in `stateMachines`). */
  orchestrator: LocalStateMachineSpec;
  /** The batch state machine (also in `stateMachines`). */
  batch: LocalStateMachineSpec;
  stateMachines: LocalStateMachineSpec[];
  functions: LocalFunctionSpec[];
  tables: CreateTableCommandInput[];
  rules: LocalEventRuleSpec[];
  /** The functions' permissions for EventBridge (the only service that invokes them locally by a rule). */
  eventPermissions: LocalLambdaPermission[];
  /** The jobs table's local name (the other tables, such as the governor's, are in `tables` too). */
  jobsTableName: string;
  schedules: LocalScheduleSpec[];
  roles: Map<string, LocalRole>;
}

/** Local names of resources whose deployed names CloudFormation generates. */
export type LocalNames = Record<string, string>;

/** Local stand-ins for what CloudFormation would resolve at deploy time. */
export function localArn(
  service: 'lambda' | 'states' | 'secretsmanager' | 'execute-api',
  resource: string,
): string {
  return `arn:aws:${service}:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${resource}`;
}

/** The ARN of a role of the template, named after its logical id. */
export const localRoleArn = (logicalId: string) => `arn:aws:iam::${LOCAL_ACCOUNT}:role/${logicalId}`;

const PSEUDO_PARAMETERS: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': LOCAL_REGION,
  'AWS::AccountId': LOCAL_ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'OrchestratorWorkers',
};

/**
 * Resolves the intrinsic functions a synthesized template uses (Ref, Fn::GetAtt, Fn::Join) the way
 * CloudFormation would, with local names: a table's Ref is its logical id, a function's Arn is a
 * local Lambda ARN named after its logical id.
 */
export function resolveIntrinsics(value: Json, template: CfnTemplate, names: LocalNames = {}): Json {
  if (Array.isArray(value)) return value.map((item) => resolveIntrinsics(item, template, names));
  if (value === null || typeof value !== 'object') return value;
  if ('Ref' in value && typeof value.Ref === 'string') return resolveRef(value.Ref, template, names);
  if ('Fn::GetAtt' in value && Array.isArray(value['Fn::GetAtt'])) {
    const [logicalId, attribute] = value['Fn::GetAtt'] as [string, string];
    return resolveGetAtt(logicalId, attribute, template, names);
  }
  if ('Fn::Join' in value && Array.isArray(value['Fn::Join'])) {
    const [separator, parts] = value['Fn::Join'] as [string, Json[]];
    return parts.map((part) => String(resolveIntrinsics(part, template, names))).join(separator);
  }
  if ('Fn::Split' in value && Array.isArray(value['Fn::Split'])) {
    const [separator, source] = value['Fn::Split'] as [string, Json];
    return String(resolveIntrinsics(source, template, names)).split(separator);
  }
  if ('Fn::Select' in value && Array.isArray(value['Fn::Select'])) {
    const [index, list] = value['Fn::Select'] as [number | string, Json];
    const items = resolveIntrinsics(list, template, names);
    if (!Array.isArray(items)) throw new Error('Fn::Select needs a list');
    const selected = items[Number(index)];
    if (selected === undefined) throw new Error(`Fn::Select index ${index} is out of range`);
    return selected;
  }
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, resolveIntrinsics(item, template, names)]),
  );
}

function resolveRef(logicalId: string, template: CfnTemplate, names: LocalNames): string {
  const pseudo = PSEUDO_PARAMETERS[logicalId];
  if (pseudo) return pseudo;
  const resource = template.Resources[logicalId];
  if (!resource) throw new Error(`Template has no resource or pseudo parameter named ${logicalId}`);
  const name = names[logicalId] ?? logicalId;
  switch (resource.Type) {
    case 'AWS::SecretsManager::Secret':
      return localArn('secretsmanager', `secret:${name}`);
    case 'AWS::StepFunctions::StateMachine':
      return localArn('states', `stateMachine:${name}`);
    default:
      return name;
  }
}

function resolveGetAtt(
  logicalId: string,
  attribute: string,
  template: CfnTemplate,
  names: LocalNames,
): string {
  const name = names[logicalId] ?? logicalId;
  const resource = template.Resources[logicalId];
  if (!resource) throw new Error(`Template has no resource ${logicalId}`);
  if (attribute !== 'Arn') throw new Error(`Cannot resolve ${logicalId}.${attribute} locally`);
  switch (resource.Type) {
    case 'AWS::Lambda::Function':
      return localArn('lambda', `function:${name}`);
    case 'AWS::DynamoDB::Table':
      return `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${name}`;
    case 'AWS::StepFunctions::StateMachine':
      return localArn('states', `stateMachine:${name}`);
    case 'AWS::Logs::LogGroup':
      return `arn:aws:logs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:log-group:${name}:*`;
    case 'AWS::IAM::Role':
      return localRoleArn(name);
    case 'AWS::SQS::Queue':
      return `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${name}`;
    case 'AWS::S3::Bucket':
      return `arn:aws:s3:::${name}`;
    case 'AWS::Events::Rule':
      return `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:rule/${name}`;
    case 'AWS::KMS::Key':
      return `arn:aws:kms:${LOCAL_REGION}:${LOCAL_ACCOUNT}:key/${name}`;
    default:
      throw new Error(`Cannot resolve the Arn of ${resource.Type} ${logicalId} locally`);
  }
}

/** The CreateTable request for a table in the template, so the local table matches the deployed one. */
export function createTableInput(
  logicalId: string,
  properties: Record<string, Json>,
): CreateTableCommandInput {
  const input = {
    TableName: logicalId,
    KeySchema: properties.KeySchema,
    AttributeDefinitions: properties.AttributeDefinitions,
    BillingMode: properties.BillingMode ?? 'PAY_PER_REQUEST',
    ...(properties.GlobalSecondaryIndexes
      ? { GlobalSecondaryIndexes: properties.GlobalSecondaryIndexes }
      : {}),
    ...(properties.LocalSecondaryIndexes ? { LocalSecondaryIndexes: properties.LocalSecondaryIndexes } : {}),
  };
  return input as unknown as CreateTableCommandInput;
}

/** Which resources of the template the local runtime binds, found by walking the construct tree. */
export interface TemplateBindings {
  orchestratorLogicalId: string;
  batchLogicalId: string;
  jobsTableLogicalId: string;
  /** Each function's logical id and its handler module (absolute path). */
  functions: { logicalId: string; entry: string }[];
}

/**
 * Extracts what the local runtime needs from a synthesized template: each state machine's definition
 * with its ARNs resolved, each function's handler module, environment and timeout, the tables, rules,
 * schedules and roles.
 */
export function localStackFromTemplate(template: CfnTemplate, bindings: TemplateBindings): SynthesizedStack {
  const { orchestratorLogicalId, batchLogicalId } = bindings;
  const names: LocalNames = { [orchestratorLogicalId]: 'orchestrator', [batchLogicalId]: 'batch' };

  const stateMachines = Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::StepFunctions::StateMachine')
    .map(([logicalId, resource]) => {
      const definitionString = resource.Properties?.DefinitionString;
      if (definitionString === undefined) throw new Error(`State machine ${logicalId} has no definition`);
      const definition = JSON.parse(String(resolveIntrinsics(definitionString, template, names))) as Record<
        string,
        unknown
      >;
      return {
        logicalId,
        name: names[logicalId] ?? logicalId,
        definition,
        roleLogicalId: roleLogicalIdOf(resource.Properties?.RoleArn, logicalId),
      };
    });
  const orchestrator = stateMachines.find((machine) => machine.logicalId === orchestratorLogicalId);
  if (!orchestrator) throw new Error('The template has no orchestrator state machine');
  const batch = stateMachines.find((machine) => machine.logicalId === batchLogicalId);
  if (!batch) throw new Error('The template has no batch state machine');

  const functions = bindings.functions.map(({ logicalId, entry }) => {
    const properties = template.Resources[logicalId]?.Properties ?? {};
    const variables = ((properties.Environment as { Variables?: Json } | undefined)?.Variables ?? {}) as Json;
    return {
      logicalId,
      arn: localArn('lambda', `function:${logicalId}`),
      entry,
      environment: resolveIntrinsics(variables, template, names) as Record<string, string>,
      timeoutSeconds: Number(properties.Timeout ?? 3),
      roleLogicalId: roleLogicalIdOf(properties.Role, logicalId),
    };
  });

  const tables = Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::DynamoDB::Table')
    .map(([logicalId, resource]) => createTableInput(logicalId, resource.Properties ?? {}));

  const rules = Object.entries(template.Resources)
    .filter(
      ([, resource]) => resource.Type === 'AWS::Events::Rule' && resource.Properties?.State !== 'DISABLED',
    )
    .map(([logicalId, resource]) => {
      const properties = resolveIntrinsics(resource.Properties ?? {}, template, names) as {
        EventPattern?: Record<string, unknown>;
        Targets?: { Arn: string }[];
      };
      return {
        logicalId,
        arn: resolveGetAtt(logicalId, 'Arn', template, names),
        eventPattern: properties.EventPattern ?? {},
        targets: (properties.Targets ?? []).map((target) => target.Arn),
      };
    });

  const eventPermissions = Object.values(template.Resources)
    .filter(
      (resource) =>
        resource.Type === 'AWS::Lambda::Permission' &&
        resource.Properties?.Principal === 'events.amazonaws.com',
    )
    .map((resource) => {
      const properties = resolveIntrinsics(resource.Properties ?? {}, template, names) as Record<
        string,
        string | undefined
      >;
      const functionName = String(properties.FunctionName);
      return {
        functionArn: functionName.startsWith('arn:')
          ? functionName
          : localArn('lambda', `function:${functionName}`),
        action: String(properties.Action),
        principal: String(properties.Principal),
        ...(properties.SourceArn ? { sourceArn: properties.SourceArn } : {}),
        ...(properties.SourceAccount ? { sourceAccount: properties.SourceAccount } : {}),
      };
    });

  const schedules = Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::Scheduler::Schedule')
    .map(([logicalId, resource]) => {
      const target = (resource.Properties?.Target ?? {}) as Record<string, Json>;
      return {
        logicalId,
        targetArn: String(resolveIntrinsics(target.Arn ?? null, template, names)),
        roleLogicalId: roleLogicalIdOf(target.RoleArn, logicalId),
        groupName: String(resource.Properties?.GroupName ?? 'default'),
      };
    });

  const roles = rolesFromTemplate(template, names);
  const jobsTableName = bindings.jobsTableLogicalId;
  return {
    template,
    orchestrator,
    batch,
    stateMachines,
    functions,
    tables,
    rules,
    eventPermissions,
    jobsTableName,
    schedules,
    roles,
  };
}
