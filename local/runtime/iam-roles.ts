import {
  accessDeniedMessage,
  type AuthorizationRequest,
  evaluatePolicies,
  type PolicyDocument,
  statementsOf,
} from './iam-policy';
import {
  type CfnTemplate,
  LOCAL_ACCOUNT,
  type LocalNames,
  localRoleArn,
  resolveIntrinsics,
} from './synthesized-stack';

type Json = Parameters<typeof resolveIntrinsics>[0];

/** A role of the synthesized template: who may assume it, and what its policies allow. */
export interface LocalRole {
  logicalId: string;
  arn: string;
  trustPolicy: PolicyDocument;
  policies: PolicyDocument[];
}

/** Who makes a request: a role, assumed under a session name (the function's name for Lambda). */
export interface LocalPrincipal {
  role: LocalRole;
  sessionName: string;
}

export const assumedRoleArn = (principal: LocalPrincipal) =>
  `arn:aws:sts::${LOCAL_ACCOUNT}:assumed-role/${principal.role.logicalId}/${principal.sessionName}`;

/** A request the caller's role does not allow; `code` is the error name the service answers with. */
export class AccessDenied extends Error {
  constructor(
    readonly code: 'AccessDeniedException' | 'AccessDenied',
    message: string,
    readonly action: string,
    readonly resource: string,
  ) {
    super(message);
    this.name = code;
  }
}

/** The logical id of the role a `Role`/`RoleArn` property points at (`Fn::GetAtt [role, Arn]`). */
export function roleLogicalIdOf(value: Json | undefined, owner: string): string {
  const getAtt = (value as { 'Fn::GetAtt'?: [string, string] } | null)?.['Fn::GetAtt'];
  if (!getAtt || getAtt[1] !== 'Arn') {
    throw new Error(`${owner}: its role is not a role of this template, so local IAM cannot evaluate it`);
  }
  return getAtt[0];
}

const refsOf = (value: Json | undefined): string[] =>
  ((value ?? []) as { Ref?: string }[]).flatMap((item) => (item.Ref ? [item.Ref] : []));

/** Every role of the template with its trust policy and identity-based policies, intrinsics resolved. */
export function rolesFromTemplate(template: CfnTemplate, names: LocalNames = {}): Map<string, LocalRole> {
  const resolve = (value: Json) => resolveIntrinsics(value, template, names) as unknown as PolicyDocument;
  const roles = new Map<string, LocalRole>();
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Role') continue;
    const properties = resource.Properties ?? {};
    const managed = (properties.ManagedPolicyArns as Json[] | undefined) ?? [];
    if (managed.length > 0) {
      throw new Error(
        `Role ${logicalId} has AWS managed policies, whose statements are not in the template; local IAM cannot evaluate them`,
      );
    }
    const inline = ((properties.Policies as { PolicyDocument: Json }[] | undefined) ?? []).map((policy) =>
      resolve(policy.PolicyDocument),
    );
    roles.set(logicalId, {
      logicalId,
      arn: localRoleArn(logicalId),
      trustPolicy: resolve(properties.AssumeRolePolicyDocument ?? { Statement: [] }),
      policies: inline,
    });
  }
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::IAM::Policy' && resource.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const properties = resource.Properties ?? {};
    const document = resolve(properties.PolicyDocument ?? { Statement: [] });
    for (const roleId of refsOf(properties.Roles)) {
      const role = roles.get(roleId);
      if (!role) throw new Error(`Policy ${logicalId} is attached to ${roleId}, which is not a role here`);
      role.policies.push(document);
    }
  }
  return roles;
}

/** Whether `service` (e.g. `lambda.amazonaws.com`) may assume the role, with the request's context keys. */
export function serviceCanAssume(
  role: LocalRole,
  service: string,
  context: AuthorizationRequest['context'] = {},
): boolean {
  const trusted = statementsOf(role.trustPolicy).filter((statement) => {
    const principal = statement.Principal as { Service?: string | string[] } | string | undefined;
    if (principal === '*') return true;
    const services = principal && typeof principal === 'object' ? principal.Service : undefined;
    return (Array.isArray(services) ? services : [services]).includes(service);
  });
  return (
    evaluatePolicies([{ Statement: trusted }], { action: 'sts:AssumeRole', resource: role.arn, context }) ===
    'Allow'
  );
}

/**
 * Throws AWS's access-denied error unless the principal's policies allow the request. `code` is
 * the service's error name: `AccessDeniedException` (most JSON services) or `AccessDenied` (S3).
 */
export function authorize(
  principal: LocalPrincipal,
  request: AuthorizationRequest,
  code: AccessDenied['code'] = 'AccessDeniedException',
): void {
  const decision = evaluatePolicies(principal.role.policies, request);
  if (decision === 'Allow') return;
  throw new AccessDenied(
    code,
    accessDeniedMessage(assumedRoleArn(principal), request, decision),
    request.action,
    request.resource,
  );
}
