/** What Powertools wrote to stdout and stderr, split into EMF metric records and log records. */
export interface CapturedOutput {
  /** Every line, parsed as JSON where it is JSON. */
  readonly lines: unknown[];
  /** EMF records (they have an `_aws` key). */
  metrics(): EmfRecord[];
  /** Structured log records (they have a `level` key). */
  logs(): LogRecord[];
  restore(): void;
}

export interface EmfRecord {
  _aws: {
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [key: string]: unknown;
}

export interface LogRecord {
  level: string;
  message: string;
  [key: string]: unknown;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;

/**
 * Captures (and swallows) process.stdout and process.stderr, where Powertools' logger and metrics
 * write outside dev mode (warnings and errors go to stderr).
 */
export function captureOutput(): CapturedOutput {
  const lines: unknown[] = [];
  const record = (chunk: unknown) => {
    for (const line of String(chunk).split('\n')) {
      if (line.trim() === '') continue;
      try {
        lines.push(JSON.parse(line));
      } catch {
        lines.push(line);
      }
    }
    return true;
  };
  const spies = [
    jest.spyOn(process.stdout, 'write').mockImplementation(record),
    jest.spyOn(process.stderr, 'write').mockImplementation(record),
  ];
  return {
    lines,
    metrics: () => lines.filter((line): line is EmfRecord => isObject(line) && '_aws' in line),
    logs: () => lines.filter((line): line is LogRecord => isObject(line) && 'level' in line),
    restore: () => spies.forEach((spy) => spy.mockRestore()),
  };
}
