export { type ControlPort, runControlCommand, startControlPort } from './control.js';
export * from './receipt.js';
export {
  type MoRequest,
  type SimAccount,
  type SimStats,
  Simulator,
  type SimulatorOptions,
  type SubmitRecord,
} from './simulator.js';
