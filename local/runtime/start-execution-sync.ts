import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AccessDenied, authorize, type LocalPrincipal } from './iam-roles';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './synthesized-stack';
import { type ExecutionRecord, type LocalStepFunctions, StepFunctionsError } from './step-functions';

/** The resource of a Task that starts another state machine and waits for it, with JSON output. */
export const START_EXECUTION_SYNC_RESOURCE = 'arn:aws:states:::states:startExecution.sync:2';

const StartExecutionParametersSchema = z.object({
  StateMachineArn: z.string().min(1),
  Name: z.string().optional(),
  Input: z.unknown().optional(),
});

const SYNC_RULE = `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule`;

/**
 * What `.sync` needs from the parent's role, as AWS documents it: start the child, describe and
 * stop its executions, and manage the EventBridge rule the service follows the child with.
 */
function authorizeSync(caller: LocalPrincipal, stateMachineArn: string, name: string | undefined): void {
  const executions = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name ?? 'execution'}`;
  const checks = [
    { action: 'states:StartExecution', resource: stateMachineArn },
    { action: 'states:DescribeExecution', resource: executions },
    { action: 'states:StopExecution', resource: executions },
    { action: 'events:PutTargets', resource: SYNC_RULE },
    { action: 'events:PutRule', resource: SYNC_RULE },
    { action: 'events:DescribeRule', resource: SYNC_RULE },
  ];
  try {
    for (const check of checks) authorize(caller, check);
  } catch (error) {
    if (!(error instanceof AccessDenied)) throw error;
    throw new TaskError(
      'StepFunctions.AWSStepFunctionsException',
      `${error.message} (Service: AWSStepFunctions; Status Code: 400; Error Code: AccessDeniedException; Request ID: ${randomUUID()}; Proxy: null)`,
    );
  }
}

/** A Task's failure as Step Functions reports it: the error name is what Retry and Catch match on. */
export class TaskError extends Error {
  constructor(errorName: string, cause: string) {
    super(cause);
    this.name = errorName;
  }
}

const parseJson = (text: string | undefined): unknown => (text === undefined ? undefined : JSON.parse(text));

/** What `DescribeExecution` returns, with `Input` and `Output` parsed (the `:2` in `.sync:2`). */
export function describeForSync(record: ExecutionRecord): Record<string, unknown> {
  return {
    ExecutionArn: record.executionArn,
    StateMachineArn: record.stateMachineArn,
    Name: record.name,
    Status: record.status,
    StartDate: record.startDate.getTime(),
    ...(record.stopDate ? { StopDate: record.stopDate.getTime() } : {}),
    Input: parseJson(record.input),
    InputDetails: { Included: true },
    ...(record.output !== undefined
      ? { Output: parseJson(record.output), OutputDetails: { Included: true } }
      : {}),
    ...(record.error !== undefined ? { Error: record.error } : {}),
    ...(record.cause !== undefined ? { Cause: record.cause } : {}),
  };
}

/**
 * Emulates the `states:startExecution.sync:2` integration for aws-local-stepfunctions: starts the
 * child execution in the same local engine, waits for it, and returns its description; a child that
 * does not succeed fails the Task with `States.TaskFailed` and the description as the cause, as AWS does.
 */
export function startExecutionSyncIntegration(
  stepFunctions: LocalStepFunctions,
  /** The parent state machine's role, which starts the child and follows it. */
  caller?: LocalPrincipal,
) {
  return async (parameters: unknown): Promise<Record<string, unknown>> => {
    const parsed = StartExecutionParametersSchema.safeParse(parameters);
    if (!parsed.success)
      throw new TaskError('States.Runtime', `Invalid StartExecution parameters: ${parsed.error.message}`);
    const { StateMachineArn, Name, Input } = parsed.data;
    if (caller) authorizeSync(caller, StateMachineArn, Name);
    let started: ExecutionRecord;
    try {
      started = await stepFunctions.startExecution({
        stateMachineArn: StateMachineArn,
        ...(Name !== undefined ? { name: Name } : {}),
        input: typeof Input === 'string' ? Input : JSON.stringify(Input ?? {}),
      });
    } catch (error) {
      if (error instanceof StepFunctionsError)
        throw new TaskError(
          `StepFunctions.${error.code.replace(/(Exception)?$/, 'Exception')}`,
          error.message,
        );
      throw error;
    }
    const finished = await stepFunctions.waitForExecution(started.executionArn);
    const description = describeForSync(finished);
    if (finished.status !== 'SUCCEEDED')
      throw new TaskError('States.TaskFailed', JSON.stringify(description));
    return description;
  };
}
