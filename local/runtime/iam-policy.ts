/**
 * IAM policy evaluation for the local stack: identity-based policies of one role, evaluated as AWS
 * does for a request in the same account (an explicit Deny wins, then any Allow, else an implicit
 * deny). It covers what a synthesized template holds: `Action`/`NotAction`, `Resource`/`NotResource`
 * with `*` and `?` wildcards, and the condition operators below; any other operator is refused
 * loudly instead of being guessed.
 */

export type PolicyValue = string | string[];

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: PolicyValue;
  NotAction?: PolicyValue;
  Resource?: PolicyValue;
  NotResource?: PolicyValue;
  Principal?: unknown;
  Condition?: Record<string, Record<string, PolicyValue | boolean>>;
}

export interface PolicyDocument {
  Version?: string;
  Statement: PolicyStatement | PolicyStatement[];
}

export interface AuthorizationRequest {
  action: string;
  resource: string;
  /** Condition keys of the request (`aws:SourceArn`, …), multi-valued keys as arrays. */
  context?: Record<string, string | string[] | undefined>;
}

export type Decision = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';

export class UnsupportedPolicyCondition extends Error {
  override readonly name = 'UnsupportedPolicyCondition';
}

const asArray = (value: PolicyValue | boolean | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [String(value)];

/** IAM wildcard match: `*` any run of characters, `?` one character. */
export function wildcardMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, caseInsensitive ? 'is' : 's').test(value);
}

/** ARN matching as `ArnLike` does: each of the six colon-separated parts matched on its own. */
export function arnLike(pattern: string, value: string): boolean {
  const patternParts = pattern.split(':');
  const valueParts = value.split(':');
  if (patternParts.length < 6 || valueParts.length < 6) return false;
  const head = (parts: string[]) => [...parts.slice(0, 5), parts.slice(5).join(':')];
  const [p, v] = [head(patternParts), head(valueParts)];
  return p.every((part, index) => wildcardMatch(part, v[index] ?? ''));
}

type ValueTest = (pattern: string, value: string) => boolean;
const OPERATORS: Record<string, { test: ValueTest; negated: boolean }> = {
  StringEquals: { test: (p, v) => p === v, negated: false },
  StringNotEquals: { test: (p, v) => p === v, negated: true },
  StringEqualsIgnoreCase: { test: (p, v) => p.toLowerCase() === v.toLowerCase(), negated: false },
  StringNotEqualsIgnoreCase: { test: (p, v) => p.toLowerCase() === v.toLowerCase(), negated: true },
  StringLike: { test: (p, v) => wildcardMatch(p, v), negated: false },
  StringNotLike: { test: (p, v) => wildcardMatch(p, v), negated: true },
  ArnEquals: { test: (p, v) => p === v, negated: false },
  ArnNotEquals: { test: (p, v) => p === v, negated: true },
  ArnLike: { test: arnLike, negated: false },
  ArnNotLike: { test: arnLike, negated: true },
  Bool: { test: (p, v) => p.toLowerCase() === v.toLowerCase(), negated: false },
};

function conditionHolds(
  operatorName: string,
  conditions: Record<string, PolicyValue | boolean>,
  context: Record<string, string | string[] | undefined>,
): boolean {
  const ifExists = operatorName.endsWith('IfExists');
  const base = ifExists ? operatorName.slice(0, -'IfExists'.length) : operatorName;
  const contextValue = (key: string) =>
    Object.entries(context).find(([name]) => name.toLowerCase() === key.toLowerCase())?.[1];
  if (base === 'Null') {
    return Object.entries(conditions).every(([key, expected]) => {
      const isNull = contextValue(key) === undefined;
      return String(expected).toLowerCase() === String(isNull);
    });
  }
  const operator = OPERATORS[base];
  if (!operator || base.startsWith('ForAllValues') || base.startsWith('ForAnyValue')) {
    throw new UnsupportedPolicyCondition(
      `The condition operator ${operatorName} is not evaluated locally; add it to local/runtime/iam-policy.ts`,
    );
  }
  return Object.entries(conditions).every(([key, expected]) => {
    const actual = contextValue(key);
    if (actual === undefined) return ifExists || operator.negated;
    const values = asArray(actual);
    const patterns = asArray(expected);
    const matches = values.some((value) => patterns.some((pattern) => operator.test(pattern, value)));
    return operator.negated ? !matches : matches;
  });
}

function statementApplies(statement: PolicyStatement, request: AuthorizationRequest): boolean {
  const actionMatches = (patterns: string[]) =>
    patterns.some((pattern) => wildcardMatch(pattern, request.action, true));
  if (statement.Action !== undefined && !actionMatches(asArray(statement.Action))) return false;
  if (statement.NotAction !== undefined && actionMatches(asArray(statement.NotAction))) return false;
  const resourceMatches = (patterns: string[]) =>
    patterns.some((pattern) => wildcardMatch(pattern, request.resource));
  if (statement.Resource !== undefined && !resourceMatches(asArray(statement.Resource))) return false;
  if (statement.NotResource !== undefined && resourceMatches(asArray(statement.NotResource))) return false;
  return Object.entries(statement.Condition ?? {}).every(([operator, conditions]) =>
    conditionHolds(operator, conditions, request.context ?? {}),
  );
}

export const statementsOf = (policy: PolicyDocument): PolicyStatement[] =>
  Array.isArray(policy.Statement) ? policy.Statement : [policy.Statement];

/** The decision of a set of identity-based policies for one request. */
export function evaluatePolicies(
  policies: readonly PolicyDocument[],
  request: AuthorizationRequest,
): Decision {
  let allowed = false;
  for (const statement of policies.flatMap(statementsOf)) {
    if (!statementApplies(statement, request)) continue;
    if (statement.Effect === 'Deny') return 'ExplicitDeny';
    allowed = true;
  }
  return allowed ? 'Allow' : 'ImplicitDeny';
}

/** AWS's wording of a denied request, naming the caller, the action and the resource. */
export function accessDeniedMessage(
  principalArn: string,
  request: AuthorizationRequest,
  decision: Exclude<Decision, 'Allow'>,
): string {
  const reason =
    decision === 'ExplicitDeny'
      ? 'with an explicit deny in an identity-based policy'
      : `because no identity-based policy allows the ${request.action} action`;
  return `User: ${principalArn} is not authorized to perform: ${request.action} on resource: ${request.resource} ${reason}`;
}
