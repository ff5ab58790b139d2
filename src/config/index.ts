export { type Env, embeddedConfig, isHost, loadConfigFile, parseConfig } from './load.js';
export type {
  ApiKeyConfig,
  BindPlanName,
  ConnectorConfig,
  HttpConfig,
  RouteConfig,
  SegmentModeName,
  SenderConfig,
  SenderType,
  SimulatorConfig,
  SluiceConfig,
  StoreConfig,
} from './types.js';
