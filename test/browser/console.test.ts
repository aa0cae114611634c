import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import type { JobView } from '../../lambdas/shared/views/job-view';
import { TERMINAL_JOB_STATUSES } from '../../lambdas/shared/domain/schemas';
import { startLocalServer, type LocalServer } from '../../local/server/server';
import { chromiumForTests } from '../helpers/chromium';

/**
 * The local execution console in a real browser (the headless Chromium of the `@sparticuz/chromium`
 * package, or `CHROMIUM_PATH`, driven by playwright-core), against `npm run serve`'s server started
 * in-process.
 */
const SCREENSHOTS = path.join(__dirname, '..', '..', 'screenshots');
const FAST_RETRIES = { Plan: 5, RunSubtask: 5, Synthesize: 5, RecordSubtaskFailure: 5, MarkFailed: 5 };
const UI_TIMEOUT_MS = 20_000;
/** Each test runs jobs and a browser; generous for a loaded 2-core machine, still bounded. */
const TEST_TIMEOUT_MS = 120_000;
const RESEARCH_TASK = 'What are the trade-offs between heat pumps and gas boilers for older houses?';

let server: LocalServer;
let sfn: SFNClient;
let browser: BrowserContext;
let userDataDir: string;

beforeAll(async () => {
  const { executablePath, env } = chromiumForTests();
  mkdirSync(SCREENSHOTS, { recursive: true });
  server = await startLocalServer({
    model: { kind: 'simulated' },
    retryIntervalOverrides: FAST_RETRIES,
    apiKey: 'console-test-key-123',
  });
  sfn = new SFNClient({
    endpoint: server.sfnEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  userDataDir = mkdtempSync(path.join(tmpdir(), 'console-chromium-'));
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    ...(env ? { env } : {}),
    headless: true,
    timeout: 30_000,
    viewport: { width: 1360, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  browser.setDefaultTimeout(UI_TIMEOUT_MS);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  sfn?.destroy();
  await server?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

beforeEach(() => {
  server.orchestrator.simulatedModel?.setFaults([]);
  server.orchestrator.simulatedModel?.setLatency(0);
});

async function api<T>(method: string, route: string, body?: unknown): Promise<T> {
  const response = await fetch(`${server.apiUrl}${route}`, {
    method,
    headers: { 'x-api-key': server.apiKey, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return (await response.json()) as T;
}

async function runJob(task: string): Promise<JobView> {
  const { jobId } = await api<{ jobId: string }>('POST', '/jobs', { task });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const view = await api<JobView>('GET', `/jobs/${jobId}`);
    if (TERMINAL_JOB_STATUSES.includes(view.status)) return view;
    if (Date.now() > deadline) throw new Error(`Job ${jobId} still ${view.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const stateStatus = (page: Page, state: string) =>
  page.locator(`#graph g.node[data-state="${state}"]`).getAttribute('data-status');

async function openPage(url: string): Promise<Page> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  await page.goto(url);
  Object.assign(page, { problems });
  return page;
}
const problemsOf = (page: Page) => (page as Page & { problems: string[] }).problems;

describe('the local execution console', () => {
  it(
    'lists a finished job as SUCCEEDED and shows its graph, history, states and job data',
    async () => {
      const view = await runJob('Write a product description for a new eco-friendly water bottle');
      const history = await sfn.send(
        new GetExecutionHistoryCommand({ executionArn: view.executionArn ?? '', maxResults: 1000 }),
      );

      const list = await openPage(server.consoleUrl);
      const row = list.locator(`tr[data-execution-name="${view.jobId}"]`);
      await row.locator('.status [data-status="SUCCEEDED"]').waitFor();
      await list.screenshot({ path: path.join(SCREENSHOTS, 'executions.png'), fullPage: true });
      await row.locator('a').click();
      await list.locator('#execution-status [data-status="SUCCEEDED"]').waitFor();
      await list
        .locator('#history tbody tr')
        .nth((history.events?.length ?? 1) - 1)
        .waitFor();

      expect(list.url()).toBe(view.consoleUrl);
      for (const state of ['Plan', 'RunSubtasks', 'RunSubtask', 'Synthesize', 'Done'])
        expect(await stateStatus(list, state)).toBe('succeeded');
      for (const state of ['RecordSubtaskFailure', 'MarkFailed', 'JobFailed'])
        expect(await stateStatus(list, state)).toBe('not-run');
      const types = await list
        .locator('#history tbody tr')
        .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-event-type')));
      expect(types).toEqual(history.events?.map((event) => event.type));
      expect(types[0]).toBe('ExecutionStarted');
      expect(types.at(-1)).toBe('ExecutionSucceeded');
      await list.locator('#graph g.node[data-state="Plan"]').click();
      await expect(list.locator('#state-details .state-input').first().textContent()).resolves.toContain(
        view.jobId,
      );
      await expect(list.locator('#state-details .state-output').first().textContent()).resolves.toContain(
        'waves',
      );
      await expect(list.locator('#synthesis').textContent()).resolves.toBe(view.synthesis);
      expect(await list.locator('#iterations [data-map="RunSubtasks"] tr[data-iteration]').count()).toBe(
        view.subtasks.length,
      );
      await list.screenshot({ path: path.join(SCREENSHOTS, 'execution.png'), fullPage: true });
      expect(problemsOf(list)).toEqual([]);
      await list.close();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'shows a subtask that keeps failing as a failed iteration with its error name',
    async () => {
      // Arrange: plans are deterministic per task, so a first run tells which subtask to break
      // (one that nothing depends on, so no other subtask fails with it).
      const first = await runJob(RESEARCH_TASK);
      const dependedOn = new Set(first.plan?.subtasks.flatMap((subtask) => subtask.dependsOn));
      const broken = first.plan?.subtasks.find((subtask) => !dependedOn.has(subtask.id))?.id ?? '';
      server.orchestrator.simulatedModel?.setFaults([
        { kind: 'bad_request', role: 'worker', match: `<assigned_subtask id="${broken}"` },
      ]);

      // Act
      const view = await runJob(RESEARCH_TASK);
      const page = await openPage(view.consoleUrl ?? '');
      await page.locator('#execution-status [data-status="SUCCEEDED"]').waitFor();
      const failedRow = page.locator(`#iterations tr[data-item="${broken}"]`);
      await failedRow.locator('.iteration-error').getByText('ModelRequestRejected').waitFor();

      // Assert
      expect(view.status).toBe('PARTIAL');
      await expect(failedRow.getAttribute('class')).resolves.toContain('row-failed');
      await expect(
        failedRow.locator('.subtask-status [data-status]').getAttribute('data-status'),
      ).resolves.toBe('FAILED');
      expect(await page.locator('#iterations tr.row-failed').count()).toBe(1);
      expect(await stateStatus(page, 'RunSubtask')).toBe('caught');
      expect(await stateStatus(page, 'RecordSubtaskFailure')).toBe('succeeded');
      expect(await stateStatus(page, 'Synthesize')).toBe('succeeded');
      await expect(page.locator('#job-status [data-status]').getAttribute('data-status')).resolves.toBe(
        'PARTIAL',
      );
      await page.screenshot({ path: path.join(SCREENSHOTS, 'execution-partial.png'), fullPage: true });
      expect(problemsOf(page)).toEqual([]);
      await page.close();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'shows a job awaiting approval with its plan and estimate, and approves or rejects it with a button',
    async () => {
      const awaiting = async () => {
        const { jobId } = await api<{ jobId: string }>('POST', '/jobs', {
          task: 'Write a product description for a new eco-friendly water bottle',
          profile: 'marketing',
          approval: 'required',
        });
        const deadline = Date.now() + 60_000;
        for (;;) {
          const view = await api<JobView>('GET', `/jobs/${jobId}`);
          const stored = await server.orchestrator.repository.getJob(jobId);
          if (view.status === 'AWAITING_APPROVAL' && stored?.approvalToken) return view;
          if (Date.now() > deadline) throw new Error(`Job ${jobId} still ${view.status}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      };
      const [toApprove, toReject] = await Promise.all([awaiting(), awaiting()]);

      const page = await openPage(toApprove.consoleUrl ?? '');
      await page.locator('#approval').waitFor();
      await expect(page.locator('#approval-plan li').count()).resolves.toBe(toApprove.plan?.subtasks.length);
      await expect(page.locator('#approval-estimate').textContent()).resolves.toMatch(/at most \$\d+\.\d\d/);
      expect(await stateStatus(page, 'AwaitApproval')).toBe('in-progress');
      await page.screenshot({
        path: path.join(SCREENSHOTS, 'execution-awaiting-approval.png'),
        fullPage: true,
      });
      await page.locator('#approval-comment').fill('Ship it');
      await page.locator('#approve-plan').click();
      await page.locator('#execution-status [data-status="SUCCEEDED"]').waitFor();
      const approved = await api<JobView>('GET', `/jobs/${toApprove.jobId}`);
      expect(approved).toMatchObject({
        status: 'SUCCEEDED',
        approval: { decision: 'approve', comment: 'Ship it' },
      });
      expect(await page.locator('#approval').count()).toBe(0);
      expect(problemsOf(page)).toEqual([]);

      await page.goto(toReject.consoleUrl ?? '');
      await page.locator('#reject-plan').click();
      await page.locator('#execution-status [data-status="SUCCEEDED"]').waitFor();
      const rejected = await api<JobView>('GET', `/jobs/${toReject.jobId}`);
      expect(rejected).toMatchObject({ status: 'CANCELLED', error: { name: 'PlanRejected' } });
      expect(rejected.subtasks.every((subtask) => subtask.usage.costUsd === 0)).toBe(true);
      expect(await stateStatus(page, 'Rejected')).toBe('succeeded');
      expect(problemsOf(page)).toEqual([]);
      await page.close();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'updates a running execution and the list without a reload',
    async () => {
      server.orchestrator.simulatedModel?.setLatency({ plan: 800, worker: 1_200, synthesis: 800 });
      const { jobId } = await api<{ jobId: string }>('POST', '/jobs', { task: 'Research tidal power' });
      const view = await api<JobView>('GET', `/jobs/${jobId}`);

      const page = await openPage(view.consoleUrl ?? '');
      await page.locator('#execution-status [data-status="RUNNING"]').waitFor();
      await page.evaluate(() => Object.assign(globalThis, { loadedOnce: true }));
      const list = await openPage(server.consoleUrl);
      await list.locator(`tr[data-execution-name="${jobId}"] [data-status="RUNNING"]`).waitFor();

      await page.locator('#graph g.node[data-state="RunSubtasks"][data-status="in-progress"]').waitFor();
      await page.locator('#execution-status [data-status="SUCCEEDED"]').waitFor({ timeout: 60_000 });
      await list.locator(`tr[data-execution-name="${jobId}"] [data-status="SUCCEEDED"]`).waitFor();

      expect(await page.evaluate(() => 'loadedOnce' in globalThis)).toBe(true);
      expect(await stateStatus(page, 'Synthesize')).toBe('succeeded');
      expect(problemsOf(page)).toEqual([]);
      await page.close();
      await list.close();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'answers only requests addressed to a loopback name',
    async () => {
      const url = new URL(server.consoleUrl);
      const { request } = await import('node:http');
      const status = await new Promise<number>((resolve, reject) => {
        const outgoing = request(
          {
            host: url.hostname,
            port: url.port,
            path: '/console/config.json',
            headers: { host: 'evil.example' },
          },
          (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          },
        );
        outgoing.on('error', reject);
        outgoing.end();
      });
      const local = await fetch(`${url.origin}/console/config.json`);

      expect(status).toBe(403);
      expect(local.status).toBe(200);
    },
    TEST_TIMEOUT_MS,
  );
});
