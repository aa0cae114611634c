import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { closeServer, listen, readBody } from './http';
import { type ExecutionRecord, type LocalStepFunctions, StepFunctionsError } from '../runtime/step-functions';

/**
 * A local Step Functions endpoint speaking the service's JSON 1.0 protocol (`X-Amz-Target:
 * AWSStepFunctions.<Action>`), so `@aws-sdk/client-sfn` and the AWS CLI work against it with only
 * the endpoint changed. Requests are not signature-checked.
 */
export interface SfnEndpoint {
  url: string;
  port: number;
  close(): Promise<void>;
}

const epochSeconds = (date: Date | undefined) => (date ? date.getTime() / 1000 : undefined);
const arn = z.string().min(1);
const pageToken = z.string().regex(/^\d+$/).optional();

const ACTIONS = {
  StartExecution: z.object({
    stateMachineArn: arn,
    name: z.string().optional(),
    input: z.string().optional(),
  }),
  DescribeExecution: z.object({ executionArn: arn }),
  StopExecution: z.object({ executionArn: arn, error: z.string().optional(), cause: z.string().optional() }),
  ListExecutions: z.object({
    stateMachineArn: arn,
    statusFilter: z.enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']).optional(),
    maxResults: z.number().int().min(0).max(1000).optional(),
    nextToken: pageToken,
  }),
  GetExecutionHistory: z.object({
    executionArn: arn,
    maxResults: z.number().int().min(0).max(1000).optional(),
    nextToken: pageToken,
    reverseOrder: z.boolean().optional(),
    includeExecutionData: z.boolean().optional(),
  }),
  SendTaskSuccess: z.object({ taskToken: z.string().min(1).max(2_048), output: z.string() }),
  SendTaskFailure: z.object({
    taskToken: z.string().min(1).max(2_048),
    error: z.string().max(256).optional(),
    cause: z.string().max(32_768).optional(),
  }),
  SendTaskHeartbeat: z.object({ taskToken: z.string().min(1).max(2_048) }),
  ListStateMachines: z.object({}),
  DescribeStateMachine: z.object({ stateMachineArn: arn }),
} as const;
type Action = keyof typeof ACTIONS;

function page<T>(
  items: T[],
  maxResults: number | undefined,
  nextToken: string | undefined,
): { items: T[]; nextToken?: string } {
  const start = nextToken ? Number(nextToken) : 0;
  const size = maxResults && maxResults > 0 ? maxResults : 100;
  const end = start + size;
  return { items: items.slice(start, end), ...(end < items.length ? { nextToken: String(end) } : {}) };
}

function describe(record: ExecutionRecord) {
  return {
    executionArn: record.executionArn,
    stateMachineArn: record.stateMachineArn,
    name: record.name,
    status: record.status,
    startDate: epochSeconds(record.startDate),
    stopDate: epochSeconds(record.stopDate),
    input: record.input,
    inputDetails: { included: true },
    ...(record.output !== undefined ? { output: record.output, outputDetails: { included: true } } : {}),
    ...(record.error ? { error: record.error } : {}),
    ...(record.cause ? { cause: record.cause } : {}),
  };
}

/**
 * One action. Executions are those of every process sharing the data folder (the service's store),
 * so the console of `npm run serve` shows jobs that `npm start` runs, and those of past runs.
 */
export async function handleSfnAction(
  service: LocalStepFunctions,
  action: Action,
  params: unknown,
): Promise<unknown> {
  switch (action) {
    case 'StartExecution': {
      const input = ACTIONS.StartExecution.parse(params);
      const record = await service.startExecution(input);
      return { executionArn: record.executionArn, startDate: epochSeconds(record.startDate) };
    }
    case 'DescribeExecution':
      return describe(await service.findExecution(ACTIONS.DescribeExecution.parse(params).executionArn));
    case 'StopExecution': {
      const input = ACTIONS.StopExecution.parse(params);
      const record = await service.requestStop(input.executionArn, input.error, input.cause);
      return { stopDate: epochSeconds(record.stopDate ?? new Date()) };
    }
    case 'ListExecutions': {
      const input = ACTIONS.ListExecutions.parse(params);
      const records = await service.findExecutions(input);
      const { items, nextToken } = page(records, input.maxResults, input.nextToken);
      return {
        executions: items.map((record) => ({
          executionArn: record.executionArn,
          stateMachineArn: record.stateMachineArn,
          name: record.name,
          status: record.status,
          startDate: epochSeconds(record.startDate),
          stopDate: epochSeconds(record.stopDate),
        })),
        ...(nextToken ? { nextToken } : {}),
      };
    }
    case 'GetExecutionHistory': {
      const input = ACTIONS.GetExecutionHistory.parse(params);
      const history = [...(await service.executionHistory(input.executionArn))];
      if (input.reverseOrder) history.reverse();
      const { items, nextToken } = page(history, input.maxResults, input.nextToken);
      return { events: items, ...(nextToken ? { nextToken } : {}) };
    }
    case 'SendTaskSuccess': {
      const input = ACTIONS.SendTaskSuccess.parse(params);
      service.taskTokens.sendTaskSuccess(input.taskToken, input.output);
      return {};
    }
    case 'SendTaskFailure': {
      const input = ACTIONS.SendTaskFailure.parse(params);
      service.taskTokens.sendTaskFailure(input.taskToken, input.error, input.cause);
      return {};
    }
    case 'SendTaskHeartbeat':
      service.taskTokens.sendTaskHeartbeat(ACTIONS.SendTaskHeartbeat.parse(params).taskToken);
      return {};
    case 'ListStateMachines':
      return {
        stateMachines: service.stateMachines().map((machine) => ({
          stateMachineArn: machine.arn,
          name: machine.name,
          type: 'STANDARD',
          creationDate: epochSeconds(machine.createdAt),
        })),
      };
    case 'DescribeStateMachine': {
      const machine = service.stateMachine(ACTIONS.DescribeStateMachine.parse(params).stateMachineArn);
      return {
        stateMachineArn: machine.arn,
        name: machine.name,
        status: 'ACTIVE',
        type: 'STANDARD',
        definition: JSON.stringify(machine.definition),
        roleArn: 'arn:aws:iam::000000000000:role/local',
        creationDate: epochSeconds(machine.createdAt),
      };
    }
  }
}

function sendError(response: ServerResponse, code: string, message: string, status = 400) {
  response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
  response.end(JSON.stringify({ __type: `com.amazonaws.swf.service.v2.model#${code}`, message }));
}

export async function startSfnEndpoint(options: {
  service: () => LocalStepFunctions;
  port?: number;
  host?: string;
}): Promise<SfnEndpoint> {
  const host = options.host ?? '127.0.0.1';
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    void (async () => {
      const target = String(request.headers['x-amz-target'] ?? '');
      const action = target.replace(/^AWSStepFunctions\./, '');
      const body = await readBody(request, 1_048_576);
      if (!body) return sendError(response, 'ValidationException', 'Request body too large');
      if (request.method !== 'POST' || !(action in ACTIONS)) {
        return sendError(
          response,
          'UnknownOperationException',
          `Unknown or unsupported operation: ${target || '(none)'}`,
        );
      }
      let params: unknown;
      try {
        params = body.length ? JSON.parse(body.toString('utf8')) : {};
      } catch {
        return sendError(response, 'SerializationException', 'Request body is not JSON');
      }
      try {
        const result = await handleSfnAction(options.service(), action as Action, params);
        response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        response.end(JSON.stringify(result));
      } catch (error) {
        if (error instanceof StepFunctionsError) return sendError(response, error.code, error.message);
        if (error instanceof z.ZodError) {
          const problems = error.issues
            .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
            .join('; ');
          return sendError(response, 'ValidationException', problems);
        }
        return sendError(
          response,
          'InternalFailure',
          error instanceof Error ? error.message : String(error),
          500,
        );
      }
    })();
  });
  const port = await listen(server, options.port ?? 0, host, 'SFN_PORT');
  return { url: `http://${host}:${port}`, port, close: () => closeServer(server) };
}
