/** Powens sandbox: HTTP fake of Powens API 2.0 for tests, benchmarks and `npm start`. */
export {
  startPowensSandbox,
  API_PREFIX,
  CONTROL_PREFIX,
  type PowensSandbox,
  type PowensSandboxOptions,
  type RateLimitOptions,
  type RecordedRequest,
  type RecordedSync,
  type SyncHold,
} from './server';
export { FaultRegistry, parseFaultRule, type FaultRule, type SandboxFault, type ActiveFault } from './faults';
export { generateDataset, secretFor, createPrng, CURRENCIES, makeAccount, makeConnection } from './dataset';
export type * from './dataset';
export { createFamilyOfficeDataset, FAMILY_OFFICE_IDS, FAMILY_OFFICE_REFERENCE_NOW } from './family-office';
