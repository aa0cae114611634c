import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { LocalLambdaFunction } from '../../local/runtime/lambda';
import type { CfnTemplate } from '../../local/runtime/synthesized-stack';
import { LocalOrchestrator } from '../../local/runtime/stack';
import { lateModelCaller } from '../helpers/late-model-caller';
import { lateWriter } from '../helpers/late-writer';

/**
 * Local IAM: every AWS call a function makes is checked against that function's role in the
 * synthesized template, as AWS checks it, so a missing grant fails here as it would deployed.
 */
const FAST_RETRIES = { Plan: 5, RunSubtask: 5, Synthesize: 5, RecordSubtaskFailure: 5, MarkFailed: 5 };
const TASK = 'Write a product description for a new eco-friendly water bottle';

async function runJob(orchestrator: LocalOrchestrator) {
  const started = await orchestrator.startJob({ task: TASK });
  const execution = await started.finished;
  const view = await orchestrator.getJobView(started.jobId);
  if (!view) throw new Error('job view missing');
  return { execution, view };
}

/** Removes `action` from every statement of the role's policies whose logical id starts with `rolePrefix`. */
function withoutAction(rolePrefix: string, action: string) {
  return (template: CfnTemplate) => {
    for (const resource of Object.values(template.Resources)) {
      if (resource.Type !== 'AWS::IAM::Policy') continue;
      const roles = JSON.stringify(resource.Properties?.Roles ?? []);
      if (!roles.includes(`"${rolePrefix}`)) continue;
      const document = resource.Properties?.PolicyDocument as { Statement: { Action: string | string[] }[] };
      for (const statement of document.Statement) {
        const actions = [statement.Action].flat().filter((candidate) => candidate !== action);
        statement.Action = actions.length === 1 ? (actions[0] ?? '') : actions;
      }
    }
  };
}

describe('local IAM', () => {
  it('lets a job whose outputs are stored in chunks (over 64 KiB) succeed with the granted actions', async () => {
    const orchestrator = await LocalOrchestrator.start({
      config: { maxTokens: { worker: 32_000, synthesis: 32_000 } },
      model: { kind: 'simulated', options: { outputPaddingChars: { worker: 70_000, synthesis: 70_000 } } },
      retryIntervalOverrides: FAST_RETRIES,
    });
    try {
      const { execution, view } = await runJob(orchestrator);
      expect(view.error).toBeNull();
      expect(execution.status).toBe('SUCCEEDED');
      expect(view.status).toBe('SUCCEEDED');
      expect(view.subtasks.every((subtask) => (subtask.output?.length ?? 0) > 70_000)).toBe(true);
      expect(view.synthesis?.length ?? 0).toBeGreaterThan(70_000);
    } finally {
      await orchestrator.close();
    }
  });

  it('fails the subtasks with AccessDeniedException naming the action when the worker role loses dynamodb:UpdateItem', async () => {
    const orchestrator = await LocalOrchestrator.start({
      model: { kind: 'simulated' },
      retryIntervalOverrides: FAST_RETRIES,
      editTemplate: withoutAction('WorkflowWorkerFunctionRole', 'dynamodb:UpdateItem'),
    });
    try {
      const { view } = await runJob(orchestrator);
      const ran = view.subtasks.filter((subtask) => subtask.error?.name !== 'DependencyFailed');
      expect(ran.length).toBeGreaterThan(0);
      for (const subtask of ran) {
        expect(subtask.status).toBe('FAILED');
        expect(subtask.error?.name).toBe('AccessDeniedException');
        expect(subtask.error?.message).toMatch(
          /^User: arn:aws:sts::000000000000:assumed-role\/WorkflowWorkerFunctionRole\w+\/WorkflowWorkerFunction\w+ is not authorized to perform: dynamodb:UpdateItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table\/\w+ because no identity-based policy allows the dynamodb:UpdateItem action$/,
        );
      }
      expect(view.status).toBe('FAILED');
    } finally {
      await orchestrator.close();
    }
  });

  it('fails the job with AccessDeniedException naming secretsmanager:GetSecretValue when the plan role may not read the key', async () => {
    const orchestrator = await LocalOrchestrator.start({
      model: { kind: 'simulated' },
      retryIntervalOverrides: FAST_RETRIES,
      editTemplate: withoutAction('WorkflowPlanFunctionRole', 'secretsmanager:GetSecretValue'),
    });
    try {
      const { execution, view } = await runJob(orchestrator);
      expect(execution.status).toBe('FAILED');
      expect(view.status).toBe('FAILED');
      expect(view.error?.name).toBe('AccessDeniedException');
      expect(view.error?.message).toMatch(
        /^User: arn:aws:sts::000000000000:assumed-role\/WorkflowPlanFunctionRole\w+\/WorkflowPlanFunction\w+ is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:000000000000:secret:\w+ because no identity-based policy allows the secretsmanager:GetSecretValue action$/,
      );
      expect(orchestrator.simulatedModel?.stats().total).toBe(0);
    } finally {
      await orchestrator.close();
    }
  });
});

describe('a function past its timeout', () => {
  it('ends as Sandbox.Timedout, and the write it makes after its deadline never lands', async () => {
    const orchestrator = await LocalOrchestrator.start({ model: { kind: 'simulated' } });
    try {
      const worker = orchestrator.functionFor('worker');
      const spec = { ...worker.spec, entry: require.resolve('../helpers/late-writer'), timeoutSeconds: 1 };
      const gateway = orchestrator.awsGateway;
      const fn = new LocalLambdaFunction(
        spec,
        { TABLE_NAME: orchestrator.stack.tables[0]?.TableName, DYNAMODB_ENDPOINT: gateway.url },
        {
          open: (opened) => {
            const { credentials } = gateway.openSession(orchestrator.principals.ofFunction(opened));
            return {
              environment: {
                AWS_ACCESS_KEY_ID: credentials.accessKeyId,
                AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
                AWS_SESSION_TOKEN: credentials.sessionToken,
              },
              kill: () => gateway.revokeSession(credentials.accessKeyId),
            };
          },
        },
      );
      await expect(fn.invoke({ pk: 'TIMEOUT#late' })).rejects.toMatchObject({ name: 'Sandbox.Timedout' });
      lateWriter.release();
      await expect(lateWriter.written).rejects.toMatchObject({ name: 'ExpiredTokenException' });
      const item = await orchestrator.dynamodb.client.send(
        new GetItemCommand({
          TableName: orchestrator.stack.tables[0]?.TableName,
          Key: { pk: { S: 'TIMEOUT#late' }, sk: { S: 'LATE' } },
        }),
      );
      expect(item.Item).toBeUndefined();
    } finally {
      await orchestrator.close();
    }
  });
});

describe('a model-calling function past its timeout', () => {
  it('ends as Sandbox.Timedout, and the model call it starts after its deadline never reaches the model', async () => {
    const orchestrator = await LocalOrchestrator.start({
      model: { kind: 'simulated' },
      entryOverrides: { worker: require.resolve('../helpers/late-model-caller') },
      functionTimeoutSeconds: { worker: 2 },
    });
    try {
      const worker = [...orchestrator.functions.values()].find((fn) =>
        fn.spec.logicalId.startsWith('WorkflowWorkerFunction'),
      );

      await expect(worker?.invoke({})).rejects.toMatchObject({ name: 'Sandbox.Timedout' });
      lateModelCaller.release();

      await expect(lateModelCaller.called).rejects.toMatchObject({ name: 'ModelUnavailable' });
      expect(orchestrator.simulatedModel?.stats().total).toBe(1);
    } finally {
      await orchestrator.close();
    }
  });
});

describe('the state machine’s own role', () => {
  it('fails the Task with Lambda.AWSLambdaException when the role may not invoke the function', async () => {
    const orchestrator = await LocalOrchestrator.start({
      model: { kind: 'simulated' },
      retryIntervalOverrides: FAST_RETRIES,
      editTemplate: (template) => {
        for (const resource of Object.values(template.Resources)) {
          if (resource.Type !== 'AWS::IAM::Policy') continue;
          if (!JSON.stringify(resource.Properties?.Roles).includes('"WorkflowStateMachineRole')) continue;
          const document = resource.Properties?.PolicyDocument as { Statement: { Resource: unknown }[] };
          document.Statement = document.Statement.filter(
            (statement) => !JSON.stringify(statement.Resource).includes('WorkflowPlanFunction'),
          );
        }
      },
    });
    try {
      const { execution, view } = await runJob(orchestrator);
      expect(execution.status).toBe('FAILED');
      expect(view.status).toBe('FAILED');
      expect(view.error?.name).toBe('Lambda.AWSLambdaException');
      expect(view.error?.message).toMatch(
        /assumed-role\/WorkflowStateMachineRole\w+\/orchestrator is not authorized to perform: lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:000000000000:function:WorkflowPlanFunction\w+ because no identity-based policy allows the lambda:InvokeFunction action \(Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException/,
      );
    } finally {
      await orchestrator.close();
    }
  });
});

describe('the scheduler’s role', () => {
  it('may start the batch state machine with the template’s grants', async () => {
    const orchestrator = await LocalOrchestrator.start({ model: { kind: 'simulated' } });
    try {
      expect(() => orchestrator.authorizeScheduledStart()).not.toThrow();
    } finally {
      await orchestrator.close();
    }
  });

  it('is refused with AccessDeniedException naming states:StartExecution when its role loses the grant', async () => {
    const orchestrator = await LocalOrchestrator.start({
      model: { kind: 'simulated' },
      editTemplate: withoutAction('SchedulerRoleForTarget', 'states:StartExecution'),
    });
    try {
      let denial: unknown;
      try {
        orchestrator.authorizeScheduledStart();
      } catch (error) {
        denial = error;
      }
      expect(denial).toMatchObject({
        name: 'AccessDeniedException',
        message: expect.stringMatching(
          /^User: arn:aws:sts::000000000000:assumed-role\/SchedulerRoleForTarget\w+\/BatchSchedulesSchedule\w+ is not authorized to perform: states:StartExecution on resource: arn:aws:states:us-east-1:000000000000:stateMachine:batch because no identity-based policy allows the states:StartExecution action$/,
        ) as string,
      });
    } finally {
      await orchestrator.close();
    }
  });
});

describe('the batch state machine’s role', () => {
  it('fails the item, not the run, with the AccessDeniedException of states:StartExecution when the role may not start its job', async () => {
    const orchestrator = await LocalOrchestrator.start({
      model: { kind: 'simulated' },
      retryIntervalOverrides: { ...FAST_RETRIES, RunJob: 5 },
      editTemplate: withoutAction('BatchesStateMachineRole', 'states:StartExecution'),
    });
    try {
      const batch = await orchestrator.startBatch({ batchName: 'denied', items: [{ task: TASK }] });
      await batch.finished;

      const view = await orchestrator.getBatchRunView(batch.runId);
      expect(view?.status).toBe('COMPLETED');
      expect(view?.items[0]).toMatchObject({
        status: 'FAILED',
        error: {
          name: 'StepFunctions.AWSStepFunctionsException',
          message: expect.stringMatching(
            /assumed-role\/BatchesStateMachineRole\w+\/batch is not authorized to perform: states:StartExecution on resource: arn:aws:states:us-east-1:000000000000:stateMachine:orchestrator .*Error Code: AccessDeniedException/,
          ) as string,
        },
      });
    } finally {
      await orchestrator.close();
    }
  });
});
