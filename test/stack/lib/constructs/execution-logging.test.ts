import { synthesize } from '../../../helpers/synth';

describe('execution logging', () => {
  it("names every state machine's log group under /aws/vendedlogs/states/, each its own", () => {
    const { json } = synthesize();
    const machines = Object.values(json.Resources).filter(
      (resource) => resource.Type === 'AWS::StepFunctions::StateMachine',
    );
    expect(machines).toHaveLength(2);
    const names = machines.map((machine) => {
      const config = machine.Properties?.LoggingConfiguration as {
        Destinations: { CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [string, string] } } }[];
      };
      const logGroupId = config.Destinations[0]!.CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0];
      return String(json.Resources[logGroupId]?.Properties?.LogGroupName);
    });
    for (const name of names) expect(name).toMatch(/^\/aws\/vendedlogs\/states\/[\w-]+$/);
    expect(new Set(names).size).toBe(2);
  });
});
