import { arnLike, wildcardMatch } from './iam-policy';
import type { LocalLambdaFunction } from './lambda';
import type { ExecutionRecord } from './step-functions';
import {
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  type LocalEventRuleSpec,
  type LocalLambdaPermission,
} from './synthesized-stack';

/** An EventBridge event as a rule's target receives it. */
export interface LocalEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

/** The "Step Functions Execution Status Change" event Step Functions sends for an execution. */
export function executionStatusChangeEvent(record: ExecutionRecord): LocalEvent {
  return {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: LOCAL_ACCOUNT,
    time: (record.stopDate ?? record.startDate).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: LOCAL_REGION,
    resources: [record.executionArn],
    detail: {
      executionArn: record.executionArn,
      stateMachineArn: record.stateMachineArn,
      name: record.name,
      status: record.status,
      startDate: record.startDate.getTime(),
      stopDate: record.status === 'RUNNING' ? null : (record.stopDate?.getTime() ?? null),
      input: record.input,
      inputDetails: { included: true },
      output: record.output ?? null,
      outputDetails: record.output === undefined ? null : { included: true },
      error: record.error ?? null,
      cause: record.cause ?? null,
    },
  };
}

/**
 * EventBridge's matching for the patterns this stack uses: every key of the pattern must be in the
 * event; an array lists the values allowed, an object matches the nested object.
 */
export function matchesPattern(pattern: Record<string, unknown>, event: Record<string, unknown>): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    const actual = event[key];
    if (Array.isArray(expected)) return expected.some((value) => value === actual);
    if (expected && typeof expected === 'object')
      return (
        actual !== null &&
        typeof actual === 'object' &&
        matchesPattern(expected as Record<string, unknown>, actual as Record<string, unknown>)
      );
    return expected === actual;
  });
}

/**
 * Whether the function's resource-based policy lets EventBridge invoke it for this rule: the
 * `AWS::Lambda::Permission` CDK adds for each function target, with the rule as `SourceArn`.
 */
export function eventBridgeMayInvoke(
  permissions: readonly LocalLambdaPermission[],
  functionArn: string,
  ruleArn: string,
): boolean {
  return permissions.some(
    (permission) =>
      permission.functionArn === functionArn &&
      permission.principal === 'events.amazonaws.com' &&
      wildcardMatch(permission.action, 'lambda:InvokeFunction', true) &&
      (permission.sourceArn === undefined || arnLike(permission.sourceArn, ruleArn)) &&
      (permission.sourceAccount === undefined || permission.sourceAccount === LOCAL_ACCOUNT),
  );
}

export interface LocalEventRulesOptions {
  /** The functions' permissions for EventBridge; undefined when local IAM is off (every delivery allowed). */
  permissions?: readonly LocalLambdaPermission[];
  /** Where a dropped delivery is reported, one line each. */
  warn?: (line: string) => void;
}

/**
 * The stack's EventBridge rules, locally: each event published is delivered to the function targets
 * of every rule it matches, asynchronously as EventBridge does. A delivery that fails is kept in
 * `failures` (EventBridge would retry it) instead of being lost silently. A target whose
 * resource-based policy does not let the rule invoke it is not invoked, as in AWS (where the
 * invocation fails and the rule's `FailedInvocations` metric counts it), and one line says so.
 */
export class LocalEventRules {
  private readonly pending = new Set<Promise<void>>();
  readonly failures: { rule: string; target: string; error: unknown }[] = [];

  constructor(
    private readonly rules: readonly LocalEventRuleSpec[],
    private readonly functions: ReadonlyMap<string, LocalLambdaFunction>,
    private readonly options: LocalEventRulesOptions = {},
  ) {}

  publish(event: LocalEvent): void {
    for (const rule of this.rules) {
      if (!matchesPattern(rule.eventPattern, event as unknown as Record<string, unknown>)) continue;
      for (const target of rule.targets) {
        const fn = this.functions.get(target);
        if (!fn) {
          this.failures.push({
            rule: rule.logicalId,
            target,
            error: new Error(`No local function ${target}`),
          });
          continue;
        }
        const { permissions } = this.options;
        if (permissions && !eventBridgeMayInvoke(permissions, target, rule.arn)) {
          const message = `EventBridge rule ${rule.logicalId} did not invoke ${target}: no permission of the function lets events.amazonaws.com call lambda:InvokeFunction from ${rule.arn} (AWS drops the delivery and counts it in the rule's FailedInvocations)`;
          this.failures.push({ rule: rule.logicalId, target, error: new Error(message) });
          (this.options.warn ?? ((line) => process.stderr.write(`${line}\n`)))(`warning: ${message}`);
          continue;
        }
        const delivery = fn
          .invoke(event)
          .then(
            () => undefined,
            (error: unknown) => {
              this.failures.push({ rule: rule.logicalId, target, error });
            },
          )
          .finally(() => this.pending.delete(delivery));
        this.pending.add(delivery);
      }
    }
  }

  /** Resolves once every delivery published so far (and any they led to) has finished. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
