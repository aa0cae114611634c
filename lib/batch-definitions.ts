/** Batch definitions are read by the CDK app (to schedule them) and by the api function (to run one by name). */
export {
  DEFAULT_BATCHES_DIR,
  InvalidBatchDefinition,
  loadBatchDefinitionFile,
  loadBatchDefinitions,
  parseBatchDefinition,
} from '../lambdas/shared/batches/catalog';
