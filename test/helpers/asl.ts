import type { Template } from 'aws-cdk-lib/assertions';
import type { AslDefinition, AslState } from './synth';

export function state(machine: AslDefinition, name: string): AslState {
  const found = machine.States[name];
  if (!found) throw new Error(`No state ${name}`);
  return found;
}
/** The outer Map over waves, and the per-wave Map of subtasks inside it. */
export const waveProcessor = (machine: AslDefinition) =>
  state(machine, 'RunWaves').ItemProcessor as AslDefinition;
export const runSubtasksOf = (machine: AslDefinition) => state(waveProcessor(machine), 'RunSubtasks');
export const itemProcessor = (machine: AslDefinition) =>
  runSubtasksOf(machine).ItemProcessor as AslDefinition;
export const retryFor = (s: AslState, error: string) =>
  s.Retry?.find((retry) => retry.ErrorEquals.includes(error));

/** The logical id of the function a Task state invokes. */
export function functionOf(s: AslState): string {
  const name = String((s.Parameters as { FunctionName: string }).FunctionName);
  return name.split(':function:')[1] ?? '';
}

/** The logical id of the template's one resource of `type` whose id matches `pattern`. */
export function logicalIdOf(template: Template, type: string, pattern: RegExp): string {
  const id = Object.keys(template.findResources(type)).find((candidate) => pattern.test(candidate));
  if (!id) throw new Error(`No ${type} matching ${pattern}`);
  return id;
}
