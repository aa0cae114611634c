// @ts-check
// The local execution console. It is a plain client of two public protocols, reached through the
// console server on the same origin: the Step Functions JSON protocol (ListStateMachines,
// ListExecutions, DescribeExecution, DescribeStateMachine, GetExecutionHistory) and the jobs API
// (GET /jobs/{jobId}). Live updates are short polling; nothing reads the engine directly.

const POLL_MS = 1000;
const STATUS_FILTERS = ['', 'RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'];
const TERMINAL_JOB = ['SUCCEEDED', 'PARTIAL', 'FAILED', 'CANCELLED'];

const config = await (await fetch('/console/config.json')).json();
const app = document.getElementById('app');

// ---------- protocol clients ----------

async function sfn(action, params) {
  const response = await fetch(config.sfnEndpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `AWSStepFunctions.${action}`,
    },
    body: JSON.stringify(params),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`${action}: ${body.message ?? response.status}`);
  return body;
}

async function sfnAll(action, params, key) {
  const items = [];
  let nextToken;
  do {
    const page = await sfn(action, { ...params, maxResults: 1000, ...(nextToken ? { nextToken } : {}) });
    items.push(...page[key]);
    nextToken = page.nextToken;
  } while (nextToken);
  return items;
}

/** GET on the jobs API; null when the job does not exist (e.g. an execution of another state machine). */
async function jobsApi(path) {
  const response = await fetch(`${config.apiBase}${path}`, { headers: { 'x-api-key': config.apiKey } });
  if (response.status === 404) return null;
  const body = await response.json();
  if (!response.ok) throw new Error(`GET ${path}: ${body.error?.message ?? response.status}`);
  return body;
}

/** POST on the jobs API; throws with the API's message on an error status. */
async function jobsApiPost(path, body) {
  const response = await fetch(`${config.apiBase}${path}`, {
    method: 'POST',
    headers: { 'x-api-key': config.apiKey, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const reply = await response.json();
  if (!response.ok) throw new Error(reply.error?.message ?? `POST ${path}: ${response.status}`);
  return reply;
}

/** "$0.12": USD rounded up to the cent (to a hundredth of a cent below one). */
function usd(amount) {
  return amount >= 0.01
    ? `$${(Math.ceil(amount * 100) / 100).toFixed(2)}`
    : `$${(Math.ceil(amount * 10_000) / 10_000).toFixed(4)}`;
}

// ---------- small helpers ----------

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') element.className = value;
    else if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Replaces an element's children, flattening arrays and leaving out null/undefined/false. */
function fill(element, ...children) {
  element.replaceChildren(
    ...children
      .flat(Infinity)
      .filter((child) => child !== undefined && child !== null && child !== false)
      .map((child) => (child instanceof Node ? child : document.createTextNode(String(child)))),
  );
}

const SVG_NS = 'http://www.w3.org/2000/svg';
function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children) element.append(child);
  return element;
}

const titleCase = (status) =>
  status.charAt(0).toUpperCase() + status.slice(1).toLowerCase().replace(/[_-]/g, ' ');
const badge = (status, label = titleCase(status)) =>
  h('span', { class: `badge s-${status}`, 'data-status': status }, label);
const time = (epochSeconds) => (epochSeconds ? new Date(epochSeconds * 1000).toLocaleString() : '–');
function duration(start, stop) {
  if (!start) return '–';
  const ms = Math.max(0, ((stop ?? Date.now() / 1000) - start) * 1000);
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}
function pretty(text) {
  if (text === undefined || text === null) return '';
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return String(text);
  }
}
/** One line for a JSON document: `{"jobId":"…","subtaskId":"background"}` without the braces' noise. */
function compact(text, max = 70) {
  const line = (text ?? '').replace(/\s+/g, ' ');
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** What tells one run of a state from the others: the input fields whose values differ between runs. */
function runLabel(runs, index) {
  const inputs = runs.map((run) => {
    try {
      const value = JSON.parse(run.input ?? 'null');
      return value && typeof value === 'object' && !Array.isArray(value) ? value : {};
    } catch {
      return {};
    }
  });
  const mine = inputs[index] ?? {};
  const distinct = Object.keys(mine).filter((key) =>
    inputs.some((other) => JSON.stringify(other[key]) !== JSON.stringify(mine[key])),
  );
  if (distinct.length === 0) return compact(runs[index]?.input);
  return compact(distinct.map((key) => `${key}: ${JSON.stringify(mine[key])}`).join(', '));
}

/** `Error: message`, reading the message out of a Lambda error cause when there is one. */
/** @param {{ error?: string, cause?: string }} failure */
function describeFailure({ error, cause }) {
  try {
    const parsed = JSON.parse(cause ?? '');
    if (parsed && typeof parsed.errorMessage === 'string') return `${error}: ${parsed.errorMessage}`;
  } catch {
    // not JSON: shown as it is
  }
  return `${error}${cause ? `: ${cause}` : ''}`.slice(0, 600);
}

function showError(error) {
  fill(app, h('div', { class: 'panel error-text', id: 'error' }, String(error?.message ?? error)));
}

/** Runs `tick` now and every POLL_MS until it returns false; failures are shown, polling goes on. */
function poll(tick) {
  const live = /** @type {HTMLElement} */ (document.getElementById('live'));
  let stopped = false;
  const run = async () => {
    try {
      const more = await tick();
      if (more === false) {
        stopped = true;
        live.textContent = 'final';
        live.classList.add('paused');
      }
    } catch (error) {
      live.textContent = `update failed: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (!stopped) setTimeout(run, POLL_MS);
  };
  void run();
}

// ---------- executions list ----------

async function listPage() {
  document.title = 'Executions · local Step Functions console';
  const params = new URLSearchParams(location.search);
  let filter = params.get('status') ?? '';
  const machines = (await sfn('ListStateMachines', {})).stateMachines;
  const select = h(
    'select',
    {
      id: 'status-filter',
      onchange: (event) => {
        filter = event.target.value;
        const url = new URL(location.href);
        if (filter) url.searchParams.set('status', filter);
        else url.searchParams.delete('status');
        history.replaceState(null, '', url);
        void refresh();
      },
    },
    STATUS_FILTERS.map((status) =>
      h('option', { value: status, selected: status === filter }, status ? titleCase(status) : 'Any status'),
    ),
  );
  const body = h('tbody');
  const count = h('span', { class: 'muted' });
  fill(
    app,
    h('h1', {}, 'Executions'),
    h(
      'div',
      { class: 'panel' },
      h('div', { class: 'toolbar' }, h('label', {}, 'Status ', select), count),
      h(
        'table',
        { id: 'executions' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Name', 'State machine', 'Status', 'Started', 'Stopped', 'Duration'].map((t) => h('th', {}, t)),
          ),
        ),
        body,
      ),
    ),
  );

  async function refresh() {
    const lists = await Promise.all(
      machines.map((machine) =>
        sfnAll(
          'ListExecutions',
          { stateMachineArn: machine.stateMachineArn, ...(filter ? { statusFilter: filter } : {}) },
          'executions',
        ).then((executions) => executions.map((execution) => ({ ...execution, machine: machine.name }))),
      ),
    );
    const executions = lists.flat().sort((a, b) => b.startDate - a.startDate);
    count.textContent = `${executions.length} execution${executions.length === 1 ? '' : 's'}`;
    fill(
      body,
      ...(executions.length === 0
        ? [h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No executions yet'))]
        : executions.map((execution) =>
            h(
              'tr',
              { 'data-execution-name': execution.name },
              h(
                'td',
                {},
                h(
                  'a',
                  { href: `/console/execution?arn=${encodeURIComponent(execution.executionArn)}` },
                  execution.name,
                ),
              ),
              h('td', {}, execution.machine),
              h('td', { class: 'status' }, badge(execution.status)),
              h('td', {}, time(execution.startDate)),
              h('td', {}, time(execution.stopDate)),
              h('td', { class: 'num' }, duration(execution.startDate, execution.stopDate)),
            ),
          )),
    );
  }
  poll(refresh);
}

// ---------- the state-machine graph ----------

/** Every state of a definition (nested Map/Parallel states included), by name; names are unique. */
function collectStates(definition, parent, into = new Map()) {
  for (const [name, state] of Object.entries(definition.States ?? {})) {
    into.set(name, { name, state, parent });
    const inner = state.ItemProcessor ?? state.Iterator;
    if (inner) collectStates(inner, name, into);
    for (const branch of state.Branches ?? []) collectStates(branch, name, into);
  }
  return into;
}

const textWidth = (label) => Math.max(110, label.length * 7.4 + 36);

/**
 * Lays the definition out with dagre. A Map or Parallel state is a cluster holding its own box (the
 * state itself) and its inner states, with a small join node that its outgoing edges leave from.
 */
function layoutGraph(definition) {
  const g = new dagre.graphlib.Graph({ compound: true, multigraph: true });
  g.setGraph({ rankdir: 'TB', nodesep: 28, ranksep: 34, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  const exitOf = new Map();
  let edgeCount = 0;
  const edge = (from, to, kind = 'next', label) =>
    g.setEdge(from, to, { kind, ...(label ? { label, width: 40, height: 14 } : {}) }, `e${edgeCount++}`);

  function addScope(scope, parent, endNode) {
    for (const [name, state] of Object.entries(scope.States)) {
      const nested = [state.ItemProcessor ?? state.Iterator, ...(state.Branches ?? [])].filter(Boolean);
      g.setNode(name, { label: name, width: textWidth(name), height: 36, kind: 'state', type: state.Type });
      if (parent) g.setParent(name, `cluster:${parent}`);
      if (nested.length > 0) {
        const cluster = `cluster:${name}`;
        const join = `join:${name}`;
        g.setNode(cluster, { kind: 'cluster', label: `${state.Type} · ${name}` });
        if (parent) g.setParent(cluster, `cluster:${parent}`);
        g.setParent(name, cluster);
        g.setNode(join, { width: 8, height: 8, kind: 'join' });
        g.setParent(join, cluster);
        exitOf.set(name, join);
        for (const inner of nested) {
          addScope(inner, name, join);
          edge(name, inner.StartAt);
        }
      }
    }
    for (const [name, state] of Object.entries(scope.States)) {
      const from = exitOf.get(name) ?? name;
      if (state.Next) edge(from, state.Next);
      if (state.Default) edge(from, state.Default);
      for (const choice of state.Choices ?? []) edge(from, choice.Next);
      for (const handler of state.Catch ?? []) edge(name, handler.Next, 'catch', 'Catch');
      if (state.End || state.Type === 'Succeed' || state.Type === 'Fail') edge(from, endNode);
    }
  }

  g.setNode('__start', { label: 'Start', width: 70, height: 28, kind: 'terminal' });
  g.setNode('__end', { label: 'End', width: 70, height: 28, kind: 'terminal' });
  addScope(definition, undefined, '__end');
  edge('__start', definition.StartAt);
  dagre.layout(g);
  return g;
}

function renderGraph(g, onSelect) {
  const { width, height } = g.graph();
  const svg = s('svg', {
    class: 'graph',
    id: 'graph',
    width: Math.ceil(width),
    height: Math.ceil(height),
    viewBox: `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`,
  });
  svg.append(
    s(
      'defs',
      {},
      s(
        'marker',
        {
          id: 'arrow',
          viewBox: '0 0 10 10',
          refX: 9,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: 'auto',
        },
        s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#687078' }),
      ),
    ),
  );
  const nodes = new Map();
  for (const id of g.nodes()) {
    const node = g.node(id);
    if (node.kind !== 'cluster') continue;
    svg.append(
      s(
        'g',
        { class: 'cluster' },
        s('rect', {
          x: node.x - node.width / 2,
          y: node.y - node.height / 2,
          width: node.width,
          height: node.height,
          rx: 8,
        }),
        s('text', { x: node.x - node.width / 2 + 8, y: node.y + node.height / 2 - 6 }, node.label),
      ),
    );
  }
  for (const e of g.edges()) {
    const edge = g.edge(e);
    const d = edge.points
      .map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x.toFixed(1)},${p.y.toFixed(1)}`)
      .join(' ');
    const group = s('g', { class: `edge ${edge.kind}` }, s('path', { d, 'marker-end': 'url(#arrow)' }));
    if (edge.label) group.append(s('text', { x: edge.x - 14, y: edge.y + 4 }, edge.label));
    svg.append(group);
  }
  for (const id of g.nodes()) {
    const node = g.node(id);
    if (node.kind === 'cluster') continue;
    if (node.kind === 'join') {
      svg.append(s('circle', { cx: node.x, cy: node.y, r: 3, fill: '#687078' }));
      continue;
    }
    const group = s(
      'g',
      { class: node.kind === 'terminal' ? 'terminal' : 'node st-not-run', 'data-state': id },
      s('rect', {
        x: node.x - node.width / 2,
        y: node.y - node.height / 2,
        width: node.width,
        height: node.height,
        rx: 6,
      }),
      s('text', { x: node.x, y: node.y + 1 }, node.label),
    );
    if (node.kind === 'state') {
      group.append(s('title', {}, `${node.type} state ${id}`));
      group.addEventListener('click', () => onSelect(id));
      nodes.set(id, group);
    }
    svg.append(group);
  }
  return { svg, nodes };
}

// ---------- what happened, from the history ----------

function analyseHistory(events) {
  const byState = new Map();
  const stat = (name) => {
    if (!byState.has(name)) byState.set(name, { entered: 0, exited: 0, failures: [], retries: 0, runs: [] });
    return byState.get(name);
  };
  const iterations = new Map();
  for (const event of events) {
    if (event.stateEnteredEventDetails) {
      const state = stat(event.stateEnteredEventDetails.name);
      state.entered++;
      state.runs.push({ input: event.stateEnteredEventDetails.input, enteredAt: event.timestamp });
    } else if (event.stateExitedEventDetails) {
      const state = stat(event.stateExitedEventDetails.name);
      state.exited++;
      const run = state.runs.find((candidate) => candidate.output === undefined && !candidate.failed);
      if (run)
        Object.assign(run, { output: event.stateExitedEventDetails.output, exitedAt: event.timestamp });
    } else if (event.taskFailedEventDetails || event.stateFailedEventDetails) {
      const details = event.taskFailedEventDetails ?? event.stateFailedEventDetails;
      stat(details.name).failures.push({ error: details.error, cause: details.cause, at: event.timestamp });
    } else if (event.taskScheduledEventDetails?.retry) {
      stat(event.taskScheduledEventDetails.name).retries++;
    } else if (event.mapIterationEventDetails) {
      const { name, index, error, cause } = event.mapIterationEventDetails;
      // A Map inside another Map (a wave's subtasks) runs once per outer item; iterations belong to its latest run.
      const run = Math.max(0, (byState.get(name)?.runs.length ?? 1) - 1);
      const key = `${name}#${run}#${index}`;
      const status = {
        MapIterationStarted: 'in-progress',
        MapIterationSucceeded: 'succeeded',
        MapIterationFailed: 'failed',
      }[event.type];
      iterations.set(key, { name, run, index, status, error, cause });
    }
  }
  return { byState, iterations };
}

/** The outcome colour of one state, as the AWS console shows it. */
function stateOutcome(name, state, byState, executionStatus) {
  const seen = byState.get(name);
  if (!seen || seen.entered === 0) return 'not-run';
  if (state.Type === 'Fail') return 'failed';
  const running = executionStatus === 'RUNNING';
  const open = seen.entered - seen.exited;
  // A caught error exits the state (with the error as output) and enters the Catch's target.
  const caught = (state.Catch ?? []).some((handler) => (byState.get(handler.Next)?.entered ?? 0) > 0);
  // Every failure is followed by a retry, a catch, or the end of the execution.
  const finalFailures = seen.failures.length - seen.retries;
  if (running && open > 0) return 'in-progress';
  if (caught && finalFailures > 0) return 'caught';
  if (open <= 0) return 'succeeded';
  if (finalFailures > 0) return 'failed';
  return 'cancelled';
}

/** Reads a simple JSONPath (`$.a.b`) out of a value. */
function readPath(value, jsonPath) {
  if (!jsonPath || jsonPath === '$') return value;
  return jsonPath
    .replace(/^\$\.?/, '')
    .split('.')
    .reduce((current, key) => (current === undefined || current === null ? undefined : current[key]), value);
}

// ---------- execution page ----------

async function executionPage(executionArn) {
  let execution = await sfn('DescribeExecution', { executionArn });
  document.title = `${execution.name} · local Step Functions console`;
  const machine = await sfn('DescribeStateMachine', { stateMachineArn: execution.stateMachineArn });
  const definition = JSON.parse(machine.definition);
  const states = collectStates(definition);
  let selected;
  const openRuns = new Set();
  /** @type {{ events: any[], analysis: ReturnType<typeof analyseHistory>, job: any }} */
  let latest = { events: [], analysis: analyseHistory([]), job: null };

  const statusSlot = h('span', { id: 'execution-status' });
  const summary = h('div', { class: 'summary' });
  const details = h(
    'div',
    { id: 'state-details' },
    h('p', { class: 'muted' }, 'Select a state in the graph to see its input and output.'),
  );
  const iterations = h('div', { id: 'iterations' });
  const jobPanel = h('div', { id: 'job' });
  const historyBody = h('tbody');
  const { svg, nodes } = renderGraph(layoutGraph(definition), (name) => {
    selected = name;
    renderDetails();
  });

  fill(
    app,
    h('p', {}, h('a', { href: '/console' }, '← Executions')),
    h('h1', {}, execution.name, ' ', statusSlot),
    h('div', { class: 'panel' }, summary),
    h(
      'div',
      { class: 'columns' },
      h(
        'div',
        { class: 'panel' },
        h('h2', {}, 'Graph view'),
        h('div', { class: 'graph-wrap' }, svg),
        h(
          'div',
          { class: 'legend' },
          ['succeeded', 'failed', 'caught', 'in-progress', 'cancelled', 'not-run'].map((status) =>
            badge(status, status === 'caught' ? 'Caught error' : titleCase(status)),
          ),
        ),
      ),
      h(
        'div',
        {},
        h('div', { class: 'panel' }, h('h2', {}, 'State'), details),
        h('div', { class: 'panel' }, iterations),
      ),
    ),
    h('div', { class: 'panel' }, jobPanel),
    h(
      'div',
      { class: 'panel' },
      h('h2', {}, 'Event history'),
      h(
        'table',
        { id: 'history' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['ID', 'Type', 'Step', 'Elapsed', 'Timestamp', 'Details'].map((t) => h('th', {}, t)),
          ),
        ),
        historyBody,
      ),
    ),
  );

  function renderSummary() {
    fill(statusSlot, badge(execution.status));
    const job = latest.job;
    fill(
      summary,
      h('div', {}, h('span', { class: 'label' }, 'State machine'), machine.name),
      h('div', {}, h('span', { class: 'label' }, 'Started'), time(execution.startDate)),
      h('div', {}, h('span', { class: 'label' }, 'Stopped'), time(execution.stopDate)),
      h(
        'div',
        {},
        h('span', { class: 'label' }, 'Duration'),
        duration(execution.startDate, execution.stopDate),
      ),
      h('div', {}, h('span', { class: 'label' }, 'Events'), String(latest.events.length)),
      job
        ? h(
            'div',
            {},
            h('span', { class: 'label' }, 'Job status'),
            h('span', { id: 'job-status' }, badge(job.status)),
          )
        : null,
      execution.error
        ? h(
            'div',
            { class: 'error-text' },
            h('span', { class: 'label' }, 'Error'),
            `${execution.error}${execution.cause ? `: ${execution.cause}` : ''}`,
          )
        : null,
    );
  }

  function renderGraphStatus() {
    for (const [name, group] of nodes) {
      const entry = states.get(name);
      const outcome = stateOutcome(name, entry.state, latest.analysis.byState, execution.status);
      group.setAttribute('class', `node st-${outcome}${name === selected ? ' selected' : ''}`);
      group.setAttribute('data-status', outcome);
    }
  }

  function renderDetails() {
    renderGraphStatus();
    if (!selected) return;
    const entry = states.get(selected);
    const seen = latest.analysis.byState.get(selected);
    const outcome = stateOutcome(selected, entry.state, latest.analysis.byState, execution.status);
    const runs = seen?.runs ?? [];
    fill(
      details,
      h(
        'p',
        {},
        h('strong', { 'data-selected-state': selected }, selected),
        ` · ${entry.state.Type} `,
        badge(outcome, outcome === 'caught' ? 'Caught error' : titleCase(outcome)),
      ),
      seen?.retries
        ? h('p', { class: 'muted' }, `${seen.retries} retr${seen.retries === 1 ? 'y' : 'ies'}`)
        : null,
      runs.length === 0 ? h('p', { class: 'muted' }, 'Not run (yet).') : null,
      (seen?.failures ?? []).map((failure) => h('p', { class: 'error-text' }, describeFailure(failure))),
      runs.map((run, index) => {
        const body = [
          h('div', {}, 'Input'),
          h('pre', { class: 'state-input' }, pretty(run.input)),
          h('div', {}, 'Output'),
          h('pre', { class: 'state-output' }, run.output === undefined ? '(none yet)' : pretty(run.output)),
        ];
        if (runs.length === 1) return h('div', { class: 'run' }, body);
        // The states inside a Map run once per item: one fold each, labelled with its input.
        const key = `${selected}#${index}`;
        const fold = h(
          'details',
          { class: 'run', open: openRuns.has(key) },
          h('summary', {}, `Run ${index + 1} of ${runs.length} · `, h('code', {}, runLabel(runs, index))),
          body,
        );
        fold.addEventListener('toggle', () => (fold.open ? openRuns.add(key) : openRuns.delete(key)));
        return fold;
      }),
    );
  }

  function renderIterations() {
    const maps = [...states.values()].filter((entry) => entry.state.Type === 'Map');
    const job = latest.job;
    fill(
      iterations,
      ...maps.map((entry) => {
        const runs = latest.analysis.byState.get(entry.name)?.runs.length ?? 0;
        const itemsOfRun = (run) => {
          const entered = latest.analysis.byState.get(entry.name)?.runs[run];
          try {
            return readPath(JSON.parse(entered?.input ?? 'null'), entry.state.ItemsPath) ?? [];
          } catch {
            return [];
          }
        };
        const rows = [...latest.analysis.iterations.values()]
          .filter((iteration) => iteration.name === entry.name)
          .sort((a, b) => a.run - b.run || a.index - b.index)
          .map((iteration) => {
            const item = itemsOfRun(iteration.run)[iteration.index];
            const subtask = job?.subtasks.find((candidate) => candidate.id === item);
            const failed = iteration.status === 'failed' || subtask?.status === 'FAILED';
            const error =
              subtask?.error ??
              (iteration.error ? { name: iteration.error, message: iteration.cause } : null);
            return h(
              'tr',
              {
                class: failed ? 'row-failed' : '',
                'data-iteration': iteration.index,
                'data-item': typeof item === 'string' ? item : undefined,
              },
              h(
                'td',
                { class: 'num' },
                runs > 1 ? `${iteration.run + 1}.${iteration.index}` : String(iteration.index),
              ),
              h('td', {}, typeof item === 'string' ? item : JSON.stringify(item ?? null)),
              h('td', {}, badge(iteration.status)),
              h('td', { class: 'subtask-status' }, subtask ? badge(subtask.status) : '–'),
              h('td', { class: 'num' }, subtask ? String(subtask.attempts) : '–'),
              h(
                'td',
                { class: 'iteration-error' },
                error ? h('span', { class: 'error-text', title: error.message ?? '' }, error.name) : '',
              ),
            );
          });
        return h(
          'div',
          { 'data-map': entry.name },
          h('h2', {}, `Map iterations · ${entry.name}${runs > 1 ? ` (${runs} runs)` : ''}`),
          rows.length === 0
            ? h('p', { class: 'muted' }, 'No iterations yet.')
            : h(
                'table',
                { class: 'iterations' },
                h(
                  'thead',
                  {},
                  h(
                    'tr',
                    {},
                    ['#', 'Item', 'Iteration', 'Subtask', 'Attempts', 'Error'].map((t) => h('th', {}, t)),
                  ),
                ),
                h('tbody', {}, rows),
              ),
        );
      }),
    );
  }

  /** The decision form of a job awaiting approval: kept across polls so a comment being typed stays. */
  let approvalForm;
  function approvalPanel(job) {
    if (job.status !== 'AWAITING_APPROVAL') {
      approvalForm = undefined;
      return null;
    }
    if (approvalForm?.dataset.jobId === job.jobId) return approvalForm;
    const comment = h('input', { id: 'approval-comment', type: 'text', placeholder: 'Comment (optional)' });
    const message = h('p', { id: 'approval-message', class: 'muted' });
    const decide = (decision) => async () => {
      for (const button of approvalForm.querySelectorAll('button')) button.disabled = true;
      message.textContent = decision === 'approve' ? 'Approving…' : 'Rejecting…';
      try {
        const view = await jobsApiPost(`/jobs/${encodeURIComponent(job.jobId)}/approval`, {
          decision,
          ...(comment.value.trim() ? { comment: comment.value.trim() } : {}),
        });
        message.textContent = `${decision === 'approve' ? 'Approved' : 'Rejected'}: the job is ${view.status}.`;
      } catch (error) {
        message.textContent = error instanceof Error ? error.message : String(error);
        message.className = 'error-text';
        for (const button of approvalForm.querySelectorAll('button')) button.disabled = false;
      }
    };
    const approve = h('button', { id: 'approve-plan', type: 'button' }, 'Approve');
    const reject = h('button', { id: 'reject-plan', type: 'button', class: 'secondary' }, 'Reject');
    approve.addEventListener('click', decide('approve'));
    reject.addEventListener('click', decide('reject'));
    const estimate = job.estimate;
    approvalForm = h(
      'div',
      { id: 'approval', class: 'approval', 'data-job-id': job.jobId },
      h('h3', {}, 'The plan waits for approval'),
      h(
        'ol',
        { id: 'approval-plan' },
        (job.plan?.subtasks ?? []).map((subtask) =>
          h(
            'li',
            {},
            h('strong', {}, subtask.title),
            ' ',
            h(
              'span',
              { class: 'muted' },
              `(${subtask.id}${subtask.dependsOn.length ? ` · after ${subtask.dependsOn.join(', ')}` : ''})`,
            ),
          ),
        ),
      ),
      estimate
        ? h(
            'p',
            { id: 'approval-estimate' },
            `Estimate: at most ${usd(estimate.costUsd)} · ${estimate.inputTokens} input / ${estimate.outputTokens} output tokens (every call's prompt and max_tokens at the price table)`,
          )
        : null,
      comment,
      h('div', { class: 'buttons' }, approve, reject),
      message,
    );
    return approvalForm;
  }

  function renderJob() {
    const job = latest.job;
    if (!job) {
      fill(
        jobPanel,
        h('h2', {}, 'Job'),
        h('p', { class: 'muted' }, `No job named ${execution.name} in the jobs API.`),
      );
      return;
    }
    const open = new Set(
      [...jobPanel.querySelectorAll('details[open]')].map((element) => element.dataset.key),
    );
    const fold = (key, summaryContent, body, openByDefault = false) =>
      h(
        'details',
        { 'data-key': key, open: open.has(key) || (openByDefault && open.size === 0) },
        h('summary', {}, summaryContent),
        body,
      );
    const usage = job.usage;
    fill(
      jobPanel,
      h('h2', {}, 'Job ', badge(job.status)),
      h(
        'p',
        { class: 'muted' },
        `${usage.inputTokens} input / ${usage.outputTokens} output tokens · est. $${usage.costUsd.toFixed(4)} · profile ${job.profile}`,
      ),
      job.error ? h('p', { class: 'error-text' }, `${job.error.name}: ${job.error.message}`) : null,
      job.estimate || job.budget || job.approval
        ? h(
            'p',
            { class: 'muted', id: 'job-budget' },
            [
              job.estimate ? `estimate at most ${usd(job.estimate.costUsd)}` : null,
              job.budget?.maxCostUsd != null ? `budget $${job.budget.maxCostUsd}` : null,
              job.budget?.maxOutputTokens != null
                ? `${job.budget.maxOutputTokens} output tokens at most`
                : null,
              job.approval
                ? `${job.approval.decision === 'approve' ? 'approved' : 'rejected'}${job.approval.by === 'auto' ? ' automatically' : ''}${job.approval.comment ? `: ${job.approval.comment}` : ''}`
                : null,
            ]
              .filter(Boolean)
              .join(' · '),
          )
        : null,
      approvalPanel(job),
      h('div', {}, h('strong', {}, 'Task'), h('pre', {}, job.task)),
      job.plan
        ? fold(
            'plan',
            h('strong', {}, `Plan · ${job.plan.subtasks.length} subtasks`),
            h('pre', {}, job.plan.analysis),
          )
        : h('p', { class: 'muted' }, 'No plan yet.'),
      job.subtasks.map((subtask) => {
        const planned = job.plan?.subtasks.find((candidate) => candidate.id === subtask.id);
        return fold(
          `subtask:${subtask.id}`,
          [
            badge(subtask.status),
            ` ${planned?.title ?? subtask.id} `,
            h(
              'span',
              { class: 'muted' },
              `(${subtask.id} · ${subtask.attempts} attempt${subtask.attempts === 1 ? '' : 's'})`,
            ),
          ],
          h(
            'pre',
            {},
            subtask.error
              ? `${subtask.error.name}: ${subtask.error.message}`
              : (subtask.output ?? '(no output yet)'),
          ),
        );
      }),
      job.synthesis
        ? fold('synthesis', h('strong', {}, 'Synthesis'), h('pre', { id: 'synthesis' }, job.synthesis), true)
        : null,
    );
  }

  function renderHistory() {
    // Elapsed time counts from the execution's first event, as in the AWS console.
    const start = latest.events[0]?.timestamp ?? execution.startDate;
    fill(
      historyBody,
      ...latest.events.map((event) => {
        const detailKey = Object.keys(event).find((key) => key.endsWith('EventDetails'));
        const detail = detailKey ? event[detailKey] : {};
        const text = detail.error
          ? describeFailure(detail)
          : (detail.output ?? detail.input ?? (detail.retry ? `retry ${detail.retry}` : ''));
        const failed = /Failed|Aborted|TimedOut/.test(event.type);
        return h(
          'tr',
          { class: failed ? 'row-failed' : '', 'data-event-type': event.type },
          h('td', { class: 'num' }, String(event.id)),
          h('td', {}, event.type),
          h('td', {}, detail.name ?? ''),
          h('td', { class: 'num' }, `${Math.round((event.timestamp - start) * 1000)} ms`),
          h('td', {}, new Date(event.timestamp * 1000).toLocaleTimeString()),
          h('td', { class: 'details', title: text }, text),
        );
      }),
    );
  }

  let extraPolls = 0;
  poll(async () => {
    const [described, events, job] = await Promise.all([
      sfn('DescribeExecution', { executionArn }),
      sfnAll('GetExecutionHistory', { executionArn }, 'events'),
      jobsApi(`/jobs/${encodeURIComponent(execution.name)}`),
    ]);
    execution = described;
    latest = { events, analysis: analyseHistory(events), job };
    renderSummary();
    renderDetails();
    renderIterations();
    renderJob();
    renderHistory();
    if (execution.status === 'RUNNING') return true;
    // The job record settles a moment after the execution (e.g. a cancel is recorded after the stop).
    const jobSettled = !job || TERMINAL_JOB.includes(job.status);
    return !jobSettled && ++extraPolls < 10;
  });
}

// ---------- routing ----------

try {
  if (location.pathname === '/console/execution') {
    const arn = new URLSearchParams(location.search).get('arn');
    if (!arn) throw new Error('No execution given: open one from the list.');
    await executionPage(arn);
  } else {
    await listPage();
  }
} catch (error) {
  showError(error);
}
