/** The account the local runtime uses in every ARN; such executions exist only on this machine. */
const LOCAL_ACCOUNT = '000000000000';

const EXECUTION_ARN = /^arn:(aws[a-z-]*):states:([a-z0-9-]+):(\d{12}):execution:[^:]+:[^:]+$/;

const CONSOLE_HOSTS: Record<string, string> = {
  aws: 'console.aws.amazon.com',
  'aws-us-gov': 'console.amazonaws-us-gov.com',
  'aws-cn': 'console.amazonaws.cn',
};

/**
 * A deep link to an execution's page: the AWS Step Functions console for a deployed execution
 * (region and partition from the ARN), the local console (`localConsoleUrl`) for a local one, and
 * null when there is nowhere to look (a local execution with no console running, or no ARN yet).
 */
export function executionConsoleUrl(
  executionArn: string | null | undefined,
  localConsoleUrl?: string,
): string | null {
  const match = executionArn ? EXECUTION_ARN.exec(executionArn) : null;
  if (!executionArn || !match) return null;
  const [, partition = 'aws', region = '', account] = match;
  if (account === LOCAL_ACCOUNT) {
    return localConsoleUrl
      ? `${localConsoleUrl.replace(/\/$/, '')}/execution?arn=${encodeURIComponent(executionArn)}`
      : null;
  }
  const host = CONSOLE_HOSTS[partition] ?? CONSOLE_HOSTS.aws;
  return `https://${region}.${host}/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}
