import Anthropic from '@anthropic-ai/sdk';
import { z } from 'zod';
import {
  MALFORMED_PLAN_VARIANTS,
  SIMULATED_FOOTER,
  optionsFromEnv,
  parseFaultsFromEnv,
  startSimulatedModel,
  type FaultRule,
  type MalformedPlanVariant,
  type Plan,
  type SimulatedModel,
  type SimulatedModelOptions,
} from '../../../../local/simulated-model';

const MODEL = 'claude-simulated-test';
const PRODUCT_TASK = 'Write a product description for a solar-powered hiking backpack';
const PROJECT_TASK = 'Build a todo app with offline sync';
const RESEARCH_TASK = 'Explain how photosynthesis works';
// Node timers may fire up to a millisecond early against a wall clock.
const TIMER_SLACK_MS = 2;

const planSchema = z.object({
  analysis: z.string().min(1),
  subtasks: z.array(
    z.object({
      id: z.string().regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/),
      type: z.string().min(1),
      title: z.string().min(1),
      description: z.string().min(1),
      dependsOn: z.array(z.string()),
    }),
  ),
});

let model: SimulatedModel | undefined;
let client: Anthropic;

async function start(options: SimulatedModelOptions = {}): Promise<SimulatedModel> {
  model = await startSimulatedModel(options);
  client = new Anthropic({ apiKey: 'simulated', baseURL: model.url, maxRetries: 0 });
  return model;
}

afterEach(async () => {
  await model?.close();
  model = undefined;
});

interface PlanOptions {
  context?: Record<string, unknown>;
  min?: number;
  max?: number;
}

function planPrompt(task: string, { context, min = 2, max = 6 }: PlanOptions = {}): string {
  const contextTag = context ? `\n<context>${JSON.stringify(context)}</context>` : '';
  return `<task>${task}</task>${contextTag}\n<subtask_bounds min="${min}" max="${max}"/>`;
}

function planParams(task: string, options: PlanOptions = {}): Anthropic.MessageCreateParamsNonStreaming {
  return {
    model: MODEL,
    max_tokens: 4096,
    system: 'You are the orchestrator. Plan the subtasks.',
    output_config: { format: { type: 'json_schema', schema: { type: 'object' } } },
    messages: [{ role: 'user', content: planPrompt(task, options) }],
  };
}

function userParams(content: string): Anthropic.MessageCreateParamsNonStreaming {
  return { model: MODEL, max_tokens: 2048, messages: [{ role: 'user', content }] };
}

function textOf(message: Anthropic.Message): string {
  return message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
}

async function createPlan(task: string, options: PlanOptions = {}): Promise<Plan> {
  return planSchema.parse(JSON.parse(textOf(await client.messages.create(planParams(task, options)))));
}

function hasCycle(subtasks: Plan['subtasks']): boolean {
  const dependencies = new Map(subtasks.map((subtask) => [subtask.id, subtask.dependsOn]));
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string): boolean => {
    if (state.get(id) === 'done' || !dependencies.has(id)) return false;
    if (state.get(id) === 'visiting') return true;
    state.set(id, 'visiting');
    const cyclic = (dependencies.get(id) ?? []).some(visit);
    state.set(id, 'done');
    return cyclic;
  };
  return subtasks.some((subtask) => visit(subtask.id));
}

/** Everything an orchestrator would reject in a plan's text; [] for a valid plan. */
function planProblems(text: string, bounds = { min: 2, max: 6 }): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return ['not_json'];
  }
  const parsed = planSchema.safeParse(value);
  if (!parsed.success) return ['wrong_schema'];
  const { subtasks } = parsed.data;
  const ids = new Set(subtasks.map((subtask) => subtask.id));
  const problems: string[] = [];
  if (ids.size < subtasks.length) problems.push('duplicate_ids');
  if (subtasks.some((subtask) => subtask.dependsOn.some((id) => !ids.has(id))))
    problems.push('unknown_dependency');
  if (hasCycle(subtasks)) problems.push('cycle');
  if (subtasks.length > bounds.max) problems.push('too_many');
  if (subtasks.length === 0) problems.push('empty');
  else if (subtasks.length < bounds.min) problems.push('too_few');
  return problems;
}

async function statusOf(request: Promise<unknown>): Promise<number | undefined> {
  try {
    await request;
    return 200;
  } catch (error) {
    if (error instanceof Anthropic.APIError) return error.status;
    throw error;
  }
}

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

function workerPrompt(subtask: { id: string; type: string; title: string }, context?: object): string {
  const contextTag = context ? `<context>${JSON.stringify(context)}</context>\n` : '';
  return [
    `<task>${PRODUCT_TASK}</task>`,
    contextTag,
    `<assigned_subtask id="${subtask.id}" type="${subtask.type}" title="${subtask.title}">Write the ${subtask.type} for the backpack.</assigned_subtask>`,
  ].join('\n');
}

describe('simulated model', () => {
  describe('planning', () => {
    it('returns a plan that depends on the task', async () => {
      await start();

      const backpack = await createPlan(PRODUCT_TASK);
      const photosynthesis = await createPlan(RESEARCH_TASK);

      expect(backpack.subtasks.map((subtask) => subtask.title)).not.toEqual(
        photosynthesis.subtasks.map((subtask) => subtask.title),
      );
      expect(
        backpack.subtasks.every((subtask) => subtask.title.includes('solar-powered hiking backpack')),
      ).toBe(true);
      expect(photosynthesis.subtasks.every((subtask) => subtask.title.includes('photosynthesis'))).toBe(true);
    });

    it('says in the analysis that the plan is simulated', async () => {
      await start();

      const plan = await createPlan(PROJECT_TASK);

      expect(plan.analysis).toMatch(/simulated/i);
      expect(plan.analysis).toContain('todo app with offline sync');
    });

    it('plans product tasks as two or three variations with different approaches', async () => {
      await start();

      const plan = await createPlan(PRODUCT_TASK, { context: { targetAudience: 'weekend hikers' } });

      expect(plan.subtasks.length).toBeGreaterThanOrEqual(2);
      expect(plan.subtasks.length).toBeLessThanOrEqual(3);
      expect(plan.subtasks.every((subtask) => subtask.type === 'variation')).toBe(true);
      expect(new Set(plan.subtasks.map((subtask) => subtask.title.split(' ')[0])).size).toBe(
        plan.subtasks.length,
      );
      expect(plan.subtasks.every((subtask) => subtask.description.includes('weekend hikers'))).toBe(true);
    });

    it('plans project tasks as a research, architecture, implementation and review chain', async () => {
      await start();

      const plan = await createPlan(PROJECT_TASK);

      const types = plan.subtasks.map((subtask) => subtask.type);
      expect(plan.subtasks.length).toBeGreaterThanOrEqual(3);
      expect(plan.subtasks.length).toBeLessThanOrEqual(5);
      expect(types[0]).toBe('research');
      expect(types).toContain('implementation');
      expect(
        types.every((type) => ['research', 'architecture', 'implementation', 'review'].includes(type)),
      ).toBe(true);
      expect(plan.subtasks[0]?.dependsOn).toEqual([]);
      expect(plan.subtasks.slice(1).every((subtask) => subtask.dependsOn.length > 0)).toBe(true);
      expect(planProblems(JSON.stringify(plan))).toEqual([]);
    });

    it('plans other tasks as research, analysis and comparison subtasks titled from the topic', async () => {
      await start();

      const plan = await createPlan(RESEARCH_TASK);

      expect(plan.subtasks.length).toBeGreaterThanOrEqual(3);
      expect(plan.subtasks.length).toBeLessThanOrEqual(6);
      expect(
        plan.subtasks.every((subtask) => ['research', 'analysis', 'comparison'].includes(subtask.type)),
      ).toBe(true);
      expect(plan.subtasks.some((subtask) => subtask.title.includes('Explain'))).toBe(false);
    });

    it.each([PRODUCT_TASK, PROJECT_TASK, RESEARCH_TASK])(
      'keeps the plan for "%s" within the bounds',
      async (task) => {
        await start();

        const narrow = await createPlan(task, { min: 2, max: 2 });
        const wide = await createPlan(task, { min: 5, max: 6 });

        expect(narrow.subtasks).toHaveLength(2);
        expect(wide.subtasks.length).toBeGreaterThanOrEqual(5);
        expect(wide.subtasks.length).toBeLessThanOrEqual(6);
        expect(planProblems(JSON.stringify(wide), { min: 5, max: 6 })).toEqual([]);
      },
    );

    it('returns the same plan for the same prompt', async () => {
      await start();

      const first = await createPlan(RESEARCH_TASK);
      const second = await createPlan(RESEARCH_TASK);

      expect(second).toEqual(first);
    });

    it('answers a forced tool_choice with a tool_use block holding the plan', async () => {
      await start();
      const params: Anthropic.MessageCreateParamsNonStreaming = {
        model: MODEL,
        max_tokens: 4096,
        tools: [{ name: 'submit_plan', description: 'Submit the plan', input_schema: { type: 'object' } }],
        tool_choice: { type: 'tool', name: 'submit_plan' },
        messages: [{ role: 'user', content: planPrompt(PROJECT_TASK) }],
      };

      const message = await client.messages.create(params);

      const block = message.content[0];
      expect(message.stop_reason).toBe('tool_use');
      expect(block?.type).toBe('tool_use');
      expect(block?.type === 'tool_use' && block.name).toBe('submit_plan');
      expect(planSchema.safeParse(block?.type === 'tool_use' ? block.input : null).success).toBe(true);
    });
  });

  describe('malformed plans and repair', () => {
    it('gives the repair turn a valid plan after a times: 1 malformed_plan rule', async () => {
      await start({ faults: [{ kind: 'malformed_plan', times: 1 }] });
      const params = planParams(PRODUCT_TASK);
      const broken = textOf(await client.messages.create(params));

      const repaired = await client.messages.create({
        ...params,
        messages: [
          ...params.messages,
          { role: 'assistant', content: broken },
          { role: 'user', content: '<validation_errors>Output is not valid JSON</validation_errors>' },
        ],
      });

      expect(planProblems(broken)).toEqual(['not_json']);
      expect(planProblems(textOf(repaired))).toEqual([]);
      expect(textOf(repaired)).toContain('corrected plan');
    });

    it.each(MALFORMED_PLAN_VARIANTS)(
      'breaks the plan in exactly the %s way',
      async (variant: MalformedPlanVariant) => {
        await start({ faults: [{ kind: 'malformed_plan', variant }] });

        const message = await client.messages.create(planParams(PROJECT_TASK));

        expect(message.stop_reason).toBe('end_turn');
        expect(planProblems(textOf(message))).toEqual([variant]);
        expect(model?.requests[0]).toMatchObject({ fault: 'malformed_plan', variant, status: 200 });
      },
    );

    it('never sends a malformed plan to a worker request', async () => {
      await start({ faults: [{ kind: 'malformed_plan' }] });

      const message = await client.messages.create(
        userParams(workerPrompt({ id: 'a', type: 'variation', title: 'Technical take' })),
      );

      expect(textOf(message)).toContain('## Technical take');
      expect(model?.stats().faults.malformed_plan).toBe(0);
    });
  });

  describe('HTTP faults', () => {
    it.each([
      { kind: 'rate_limit', errorClass: Anthropic.RateLimitError, status: 429, type: 'rate_limit_error' },
      {
        kind: 'overloaded',
        errorClass: Anthropic.InternalServerError,
        status: 529,
        type: 'overloaded_error',
      },
      { kind: 'server_error', errorClass: Anthropic.InternalServerError, status: 500, type: 'api_error' },
      {
        kind: 'bad_request',
        errorClass: Anthropic.BadRequestError,
        status: 400,
        type: 'invalid_request_error',
      },
    ] as const)('delivers $kind to the SDK as $status $type', async ({ kind, errorClass, status, type }) => {
      await start({ faults: [{ kind }] });

      const error: unknown = await client.messages
        .create(planParams(PRODUCT_TASK))
        .catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(errorClass);
      expect(error).toMatchObject({
        status,
        type,
        apiMessage: `Simulated ${kind} (injected fault)`,
        requestID: expect.stringMatching(/^req_sim_/),
      });
    });

    it('sends retry-after: 1 with a rate limit', async () => {
      await start({ faults: [{ kind: 'rate_limit' }] });

      const error: unknown = await client.messages
        .create(planParams(PRODUCT_TASK))
        .catch((caught: unknown) => caught);

      expect(error instanceof Anthropic.RateLimitError ? error.headers.get('retry-after') : null).toBe('1');
    });

    it('applies a rule with times only to the first N matching requests', async () => {
      await start({ faults: [{ kind: 'rate_limit', times: 2 }] });

      const statuses = [];
      for (let i = 0; i < 3; i++)
        statuses.push(await statusOf(client.messages.create(planParams(PRODUCT_TASK))));

      expect(statuses).toEqual([429, 429, 200]);
    });

    it('applies a rule with match only to requests containing the text', async () => {
      await start({ faults: [{ kind: 'server_error', match: 'hiking backpack' }] });

      const matching = await statusOf(client.messages.create(planParams(PRODUCT_TASK)));
      const other = await statusOf(client.messages.create(planParams(RESEARCH_TASK)));

      expect([matching, other]).toEqual([500, 200]);
    });

    it('applies a rule with role only to requests of that role', async () => {
      await start({ faults: [{ kind: 'overloaded', role: 'worker' }] });

      const plan = await statusOf(client.messages.create(planParams(PRODUCT_TASK)));
      const worker = await statusOf(
        client.messages.create(userParams(workerPrompt({ id: 'a', type: 'variation', title: 'A' }))),
      );

      expect([plan, worker]).toEqual([200, 529]);
    });

    it('injects rate-based faults in the same pattern for the same seed', async () => {
      const statusesFor = async (seed: number): Promise<Array<number | undefined>> => {
        await start({ seed, faults: [{ kind: 'rate_limit', rate: 0.5 }] });
        const statuses = [];
        for (let i = 0; i < 16; i++)
          statuses.push(await statusOf(client.messages.create(planParams(PRODUCT_TASK))));
        await model?.close();
        return statuses;
      };

      const first = await statusesFor(42);
      const second = await statusesFor(42);

      expect(second).toEqual(first);
      expect(first).toContain(429);
      expect(first).toContain(200);
    });

    it('changes the fault rules at run time with setFaults', async () => {
      const running = await start();

      const before = await statusOf(client.messages.create(planParams(PRODUCT_TASK)));
      running.setFaults([{ kind: 'server_error' }]);
      const during = await statusOf(client.messages.create(planParams(PRODUCT_TASK)));
      running.setFaults([]);
      const after = await statusOf(client.messages.create(planParams(PRODUCT_TASK)));

      expect([before, during, after]).toEqual([200, 500, 200]);
    });

    it('rejects invalid fault rules', async () => {
      const invalid = [{ kind: 'rate_limit', rate: 2 }] as FaultRule[];

      await expect(startSimulatedModel({ faults: invalid })).rejects.toThrow(/faults\.0\.rate/);
    });
  });

  describe('hangs', () => {
    it('holds a hung request until the SDK timeout cuts it off', async () => {
      await start({ faults: [{ kind: 'hang' }] });

      const error = await client.messages
        .create(planParams(PRODUCT_TASK), { timeout: 200 })
        .catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(Anthropic.APIConnectionTimeoutError);
      expect(model?.requests[0]).toMatchObject({ fault: 'hang', status: null });
    });

    it('closes promptly with a hung request still open', async () => {
      const running = await start({ faults: [{ kind: 'hang' }] });
      const pending = client.messages.create(planParams(PRODUCT_TASK)).catch((caught: unknown) => caught);
      await waitUntil(() => running.requests.length === 1);

      const startedAt = performance.now();
      await running.close();
      const closeMs = performance.now() - startedAt;

      expect(closeMs).toBeLessThan(2000);
      expect(await pending).toBeInstanceOf(Anthropic.APIConnectionError);
    }, 5_000);
  });

  describe('latency', () => {
    it('waits at least the configured latency for the role', async () => {
      await start({ latencyMs: { plan: 150 } });

      const startedAt = performance.now();
      await client.messages.create(planParams(PRODUCT_TASK));
      const elapsed = performance.now() - startedAt;

      expect(elapsed).toBeGreaterThanOrEqual(150 - TIMER_SLACK_MS);
    });

    it('logs when each request arrived and was answered', async () => {
      const running = await start({ latencyMs: { plan: 150 } });

      const before = Date.now();
      await client.messages.create(planParams(PRODUCT_TASK));
      const after = Date.now();

      const [entry] = running.requests;
      expect(entry?.receivedAtMs).toBeGreaterThanOrEqual(before);
      expect(entry?.answeredAtMs).toBeLessThanOrEqual(after);
      expect((entry?.answeredAtMs ?? 0) - (entry?.receivedAtMs ?? 0)).toBeGreaterThanOrEqual(
        150 - TIMER_SLACK_MS,
      );
    });

    it('changes the latency at run time with setLatency', async () => {
      const running = await start();

      running.setLatency({ worker: 120 }, 30);
      const startedAt = performance.now();
      await client.messages.create(userParams(workerPrompt({ id: 'a', type: 'variation', title: 'A' })));
      const elapsed = performance.now() - startedAt;

      expect(elapsed).toBeGreaterThanOrEqual(120 - TIMER_SLACK_MS);
    });
  });

  describe('worker and synthesis outputs', () => {
    it('writes worker output that addresses its subtask and carries the simulated marker', async () => {
      await start();
      const subtask = { id: 'technical-variation', type: 'variation', title: 'Technical take' };

      const text = textOf(
        await client.messages.create(userParams(workerPrompt(subtask, { targetAudience: 'hikers' }))),
      );

      expect(text.split('\n')[0]).toBe(
        '*Simulated output (local test double) for subtask "Technical take".*',
      );
      expect(text).toContain('## Technical take');
      expect(text).toContain('solar-powered hiking backpack');
      expect(text).toContain('variation');
      expect(text).toContain('targetAudience: hikers');
    });

    it('writes the same text for the same subtask and different text for different subtasks', async () => {
      await start();
      const technical = userParams(
        workerPrompt({ id: 'technical-variation', type: 'variation', title: 'Technical' }),
      );
      const lifestyle = userParams(
        workerPrompt({ id: 'lifestyle-variation', type: 'variation', title: 'Lifestyle' }),
      );

      const first = textOf(await client.messages.create(technical));
      const again = textOf(await client.messages.create(technical));
      const other = textOf(await client.messages.create(lifestyle));

      expect(again).toBe(first);
      expect(other).not.toBe(first);
    });

    it('combines successful results, notes failed parts and ends with the simulated footer', async () => {
      await start();
      const prompt = [
        `<task>${PRODUCT_TASK}</task>`,
        '<subtask_results>',
        '<result id="technical-variation" title="Technical take" status="SUCCEEDED">Waterproof panels charge a phone in four hours.</result>',
        '<result id="lifestyle-variation" title="Lifestyle take" status="SUCCEEDED">Made for long weekends outdoors.</result>',
        '<failed_subtask id="emotional-variation" title="Emotional take" error="Worker timed out"/>',
        '</subtask_results>',
      ].join('\n');

      const text = textOf(await client.messages.create(userParams(prompt)));

      expect(text).toContain('# Solar-powered hiking backpack');
      expect(text).toContain('## Technical take\n\nWaterproof panels charge a phone in four hours.');
      expect(text).toContain('## Lifestyle take');
      expect(text).not.toContain('## Emotional take');
      expect(text).toMatch(/could not be produced: "Emotional take" \(Worker timed out\)/);
      expect(text.split('\n').at(-1)).toBe(SIMULATED_FOOTER);
      expect(model?.requests[0]?.role).toBe('synthesis');
    });

    it('echoes an unrecognised request and says it is simulated', async () => {
      await start();

      const text = textOf(await client.messages.create(userParams('What is the capital of France?')));

      expect(text).toMatch(/simulated/i);
      expect(text).toContain('What is the capital of France?');
      expect(model?.requests[0]?.role).toBe('other');
    });
  });

  describe('wire protocol', () => {
    it('reports the requested model, a simulated id and positive usage counts', async () => {
      await start();

      const message = await client.messages.create(planParams(PRODUCT_TASK));

      expect(message).toMatchObject({
        type: 'message',
        role: 'assistant',
        model: MODEL,
        stop_reason: 'end_turn',
      });
      expect(message.id).toMatch(/^msg_sim_[0-9a-f]+$/);
      expect(message.usage.input_tokens).toBeGreaterThan(0);
      expect(message.usage.output_tokens).toBeGreaterThan(0);
      expect(message.usage.output_tokens).toBe(Math.ceil(textOf(message).length / 4));
    });

    it('cuts the text at max_tokens and says so in stop_reason', async () => {
      await start();

      const message = await client.messages.create({ ...planParams(PROJECT_TASK), max_tokens: 10 });

      expect(message.stop_reason).toBe('max_tokens');
      expect(textOf(message)).toHaveLength(40);
    });

    it.each(['model', 'max_tokens', 'messages'])(
      'rejects a body without %s as invalid_request_error',
      async (field) => {
        const running = await start();
        const body: Record<string, unknown> = {
          model: MODEL,
          max_tokens: 100,
          messages: [{ role: 'user', content: 'hi' }],
        };
        delete body[field];

        const response = await fetch(`${running.url}/v1/messages`, {
          method: 'POST',
          body: JSON.stringify(body),
        });

        expect(response.status).toBe(400);
        expect(await response.json()).toEqual({
          type: 'error',
          error: { type: 'invalid_request_error', message: expect.stringContaining(field) },
        });
      },
    );

    it('answers unknown paths with 404 in the error shape', async () => {
      const running = await start();

      const response = await fetch(`${running.url}/v1/complete`, { method: 'POST', body: '{}' });

      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    });

    it('accepts a query string and system prompts as text blocks with cache_control', async () => {
      const running = await start();
      const body = {
        ...planParams(PRODUCT_TASK),
        system: [{ type: 'text', text: 'You are the orchestrator.', cache_control: { type: 'ephemeral' } }],
      };

      const response = await fetch(`${running.url}/v1/messages?beta=true`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

      expect(response.status).toBe(200);
      expect(response.headers.get('request-id')).toMatch(/^req_sim_/);
      expect(running.requests[0]?.role).toBe('plan');
    });

    it('counts requests by role and injected faults by kind', async () => {
      const running = await start({ faults: [{ kind: 'rate_limit', role: 'worker', times: 1 }] });
      const worker = userParams(workerPrompt({ id: 'a', type: 'variation', title: 'A' }));

      await client.messages.create(planParams(PRODUCT_TASK));
      await statusOf(client.messages.create(worker));
      await client.messages.create(worker);

      expect(running.stats()).toMatchObject({
        total: 3,
        byRole: { plan: 1, worker: 2, synthesis: 0, other: 0 },
        faults: { rate_limit: 1, overloaded: 0, malformed_plan: 0 },
      });
      expect(running.requests.map((entry) => entry.status)).toEqual([200, 429, 200]);
    });
  });

  describe('environment', () => {
    it('reads every SIM_MODEL_* variable into options', () => {
      const env = {
        SIM_MODEL_FAULTS: 'rate_limit=0.2,overloaded=0.1,server_error=0.05,hang=0.01,malformed_plan=0.1',
        SIM_MODEL_LATENCY_MS: 'plan=400,worker=800,synthesis=400',
        SIM_MODEL_JITTER_MS: '50',
        SIM_MODEL_SEED: '7',
        SIM_MODEL_PORT: '4010',
      };

      const options = optionsFromEnv(env);

      expect(options).toEqual({
        faults: [
          { kind: 'rate_limit', rate: 0.2 },
          { kind: 'overloaded', rate: 0.1 },
          { kind: 'server_error', rate: 0.05 },
          { kind: 'hang', rate: 0.01 },
          { kind: 'malformed_plan', rate: 0.1 },
        ],
        latencyMs: { plan: 400, worker: 800, synthesis: 400 },
        jitterMs: 50,
        seed: 7,
        port: 4010,
      });
    });

    it('reads a single latency number for every role and a malformed-plan variant', () => {
      const env = { SIM_MODEL_LATENCY_MS: '250', SIM_MODEL_FAULTS: 'malformed_plan:cycle=1' };

      const options = optionsFromEnv(env);

      expect(options.latencyMs).toEqual({ plan: 250, worker: 250, synthesis: 250 });
      expect(parseFaultsFromEnv(env)).toEqual([{ kind: 'malformed_plan', variant: 'cycle', rate: 1 }]);
    });

    it('leaves out variables that are unset or empty', () => {
      expect(optionsFromEnv({ SIM_MODEL_FAULTS: '', SIM_MODEL_PORT: ' ' })).toEqual({ faults: [] });
    });

    it.each([
      ['SIM_MODEL_FAULTS', 'rate_limit=2'],
      ['SIM_MODEL_FAULTS', 'explode=0.1'],
      ['SIM_MODEL_FAULTS', 'rate_limit'],
      ['SIM_MODEL_FAULTS', 'malformed_plan:sideways=0.1'],
      ['SIM_MODEL_LATENCY_MS', 'plan=fast'],
      ['SIM_MODEL_LATENCY_MS', 'gpu=100'],
      ['SIM_MODEL_LATENCY_MS', '-5'],
      ['SIM_MODEL_JITTER_MS', 'abc'],
      ['SIM_MODEL_SEED', '1.5'],
      ['SIM_MODEL_PORT', '70000'],
    ])('rejects %s=%s with an error naming the variable and the value', (name, value) => {
      const read = (): unknown => optionsFromEnv({ [name]: value });

      expect(read).toThrow(`Invalid ${name}="${value}"`);
    });
  });
});
