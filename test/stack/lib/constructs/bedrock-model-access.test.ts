import { App, Stack } from 'aws-cdk-lib';
import { Table, AttributeType } from 'aws-cdk-lib/aws-dynamodb';
import type { Template } from 'aws-cdk-lib/assertions';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { DEFAULT_BEDROCK_MODELS, parseBedrockModelId } from '../../../../lib/bedrock-models';
import { parseConfig } from '../../../../lib/config';
import { OrchestratorWorkflow } from '../../../../lib/constructs/orchestrator-workflow';
import { type CfnTemplate, resolveIntrinsics } from '../../../../local/runtime/synthesized-stack';
import { synthesize } from '../../../helpers/synth';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string>>;
}

const MODEL_FUNCTIONS = {
  orchestrator: 'Plans a job',
  worker: 'Runs one subtask',
  synthesis: 'Combines',
} as const;
const OTHER_FUNCTIONS = ['Records why', 'Records a job as FAILED', 'Jobs API'];

function functionByDescription(template: Template, text: string) {
  const entry = Object.entries(template.findResources('AWS::Lambda::Function')).find(([, resource]) =>
    String(resource.Properties.Description).startsWith(text),
  );
  if (!entry) throw new Error(`No function described as ${text}`);
  return { logicalId: entry[0], properties: entry[1].Properties };
}

/** Every statement of the policies attached to a function's role, intrinsics resolved locally. */
function statementsOf(template: Template, json: CfnTemplate, description: string): Statement[] {
  const { properties } = functionByDescription(template, description);
  const roleId = (properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => (policy.Properties.Roles as { Ref: string }[]).some((role) => role.Ref === roleId))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
    .map((statement) => resolveIntrinsics(statement as never, json) as unknown as Statement);
}

const actions = (statement: Statement) => [statement.Action].flat();
const bedrockStatements = (statements: Statement[]) =>
  statements.filter((statement) => actions(statement).some((action) => action.startsWith('bedrock:')));
const allActions = (json: CfnTemplate) =>
  Object.values(json.Resources)
    .filter((resource) => resource.Type === 'AWS::IAM::Policy')
    .flatMap((resource) => JSON.stringify(resource.Properties).match(/(?<=")[a-z-]+:[A-Za-z*]+(?=")/g) ?? []);

const PROFILE_ARN = (id: string) => `arn:aws:bedrock:us-east-1:000000000000:inference-profile/${id}`;

describe('the bedrock provider', () => {
  const { template, json } = synthesize({ provider: 'bedrock' });

  it('creates no secret and gives no function a secret, a key, or Secrets Manager access', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    expect(Object.keys(template.findOutputs('ApiKeySecretArn'))).toEqual([]);
    for (const resource of Object.values(template.findResources('AWS::Lambda::Function'))) {
      const variables = Object.keys(resource.Properties.Environment?.Variables ?? {});
      expect(variables.filter((name) => /SECRET|API_KEY/.test(name))).toEqual([]);
    }
    expect(allActions(json)).toContain('dynamodb:UpdateItem');
    expect(allActions(json).filter((action) => action.startsWith('secretsmanager:'))).toEqual([]);
  });

  it.each(Object.entries(MODEL_FUNCTIONS))(
    'lets the %s function invoke its own model, through its inference profile only',
    (role, description) => {
      const model = DEFAULT_BEDROCK_MODELS[role as keyof typeof DEFAULT_BEDROCK_MODELS];
      const foundationModel = parseBedrockModelId(model)?.foundationModelId;
      const { properties } = functionByDescription(template, description);

      expect(properties.Environment.Variables).toMatchObject({ MODEL_PROVIDER: 'bedrock', MODEL: model });
      expect(bedrockStatements(statementsOf(template, json, description))).toEqual([
        { Effect: 'Allow', Action: 'bedrock:InvokeModel', Resource: PROFILE_ARN(model) },
        {
          Effect: 'Allow',
          Action: 'bedrock:InvokeModel',
          Resource: `arn:aws:bedrock:*::foundation-model/${foundationModel}`,
          Condition: { StringEquals: { 'bedrock:InferenceProfileArn': PROFILE_ARN(model) } },
        },
      ]);
    },
  );

  it('gives the functions that call no model no Bedrock access', () => {
    for (const description of OTHER_FUNCTIONS) {
      expect(bedrockStatements(statementsOf(template, json, description))).toEqual([]);
    }
  });

  it('allows a foundation-model id in the stack region only, and a global profile wherever it routes', () => {
    const configured = synthesize({
      provider: 'bedrock',
      models: { worker: 'anthropic.claude-haiku-5-5', synthesis: 'global.anthropic.claude-sonnet-5-5' },
    });

    expect(bedrockStatements(statementsOf(configured.template, configured.json, 'Runs one subtask'))).toEqual(
      [
        {
          Effect: 'Allow',
          Action: 'bedrock:InvokeModel',
          Resource: 'arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-haiku-5-5',
        },
      ],
    );
    const synthesis = bedrockStatements(statementsOf(configured.template, configured.json, 'Combines'));
    expect(synthesis[0]?.Resource).toBe(PROFILE_ARN('global.anthropic.claude-sonnet-5-5'));
    expect(synthesis[1]).toMatchObject({
      Resource: [
        'arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-5-5',
        'arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-5-5',
      ],
      Condition: {
        StringEquals: { 'bedrock:InferenceProfileArn': PROFILE_ARN('global.anthropic.claude-sonnet-5-5') },
      },
    });
  });
});

describe('the anthropic provider', () => {
  const { template, json } = synthesize();

  it('grants no Bedrock permission at all, and keeps the key secret', () => {
    expect(allActions(json)).toContain('secretsmanager:GetSecretValue');
    expect(allActions(json).filter((action) => action.startsWith('bedrock:'))).toEqual([]);
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    for (const description of Object.values(MODEL_FUNCTIONS)) {
      expect(
        functionByDescription(template, description).properties.Environment.Variables.MODEL_PROVIDER,
      ).toBe('anthropic');
    }
  });
});

describe('the orchestrator workflow construct', () => {
  it('fails when the workflow gets a secret it cannot use, or lacks one it needs', () => {
    const stack = new Stack(new App(), 'Test');
    const table = new Table(stack, 'T', { partitionKey: { name: 'pk', type: AttributeType.STRING } });

    expect(
      () =>
        new OrchestratorWorkflow(stack, 'A', {
          table,
          provider: 'anthropic',
          models: parseConfig({}).models,
        }),
    ).toThrow(/needs apiKeySecret/);
    const secret = Secret.fromSecretCompleteArn(
      stack,
      'S',
      'arn:aws:secretsmanager:us-east-1:1:secret:k-AbCdEf',
    );
    expect(
      () =>
        new OrchestratorWorkflow(stack, 'B', {
          table,
          apiKeySecret: secret,
          provider: 'bedrock',
          models: parseConfig({ provider: 'bedrock' }).models,
        }),
    ).toThrow(/takes no apiKeySecret/);
  });
});

describe("Bedrock's automatic subscription on a model's first use", () => {
  const marketplaceStatements = (config: Parameters<typeof synthesize>[0], description: string) => {
    const { template, json } = synthesize(config);
    return statementsOf(template, json, description).filter((statement) =>
      [statement.Action].flat().some((action) => String(action).startsWith('aws-marketplace:')),
    );
  };

  it.each(Object.values(MODEL_FUNCTIONS))(
    'lets the "%s" function subscribe to the configured model products only',
    (description) => {
      const statements = marketplaceStatements(
        { provider: 'bedrock', bedrockMarketplaceProductIds: ['prod-abc123', 'prod-def456'] },
        description,
      );
      expect(statements).toEqual([
        expect.objectContaining({
          Action: 'aws-marketplace:Subscribe',
          Resource: '*',
          Condition: {
            'ForAnyValue:StringEquals': { 'aws-marketplace:ProductId': ['prod-abc123', 'prod-def456'] },
          },
        }),
        expect.objectContaining({ Action: 'aws-marketplace:ViewSubscriptions', Resource: '*' }),
      ]);
    },
  );

  it('grants no marketplace action without product ids, and refuses them with provider anthropic', () => {
    expect(marketplaceStatements({ provider: 'bedrock' }, MODEL_FUNCTIONS.worker)).toEqual([]);
    expect(() => parseConfig({ bedrockMarketplaceProductIds: ['prod-abc123'] })).toThrow(
      /bedrockMarketplaceProductIds: is only used with provider "bedrock"/,
    );
  });
});
