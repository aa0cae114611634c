import { LocalOrchestrator } from '../../local/runtime/stack';

describe('local runtime configuration', () => {
  it('refuses batchMap "distributed", naming the setting, before starting anything', async () => {
    // Arrange
    const options = { model: { kind: 'simulated' as const }, config: { batchMap: 'distributed' as const } };

    // Act
    const starting = LocalOrchestrator.start(options);

    // Assert
    await expect(starting).rejects.toThrow(/batchMap "distributed" cannot run locally.*Distributed Map/);
  });
});
