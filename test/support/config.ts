/** Configuration pieces the tests build by hand, every field at its documented default. */
import type { SenderConfig } from '../../src/config/types.js';

/** A sender as the configuration loader would give it: no policy beyond what `overrides` sets. */
export function senderConfig(address: string, overrides: Partial<SenderConfig> = {}): SenderConfig {
  return {
    address,
    type: 'shortcode',
    smartEncoding: true,
    nationalLanguages: [],
    program: null,
    optOutScope: 'sender',
    rateLimit: 0,
    rateBurst: 1,
    maxQueueAgeSeconds: 3600,
    quietHours: null,
    keywords: { optOut: [], optIn: [], help: [], custom: {} },
    replies: { optOut: null, optIn: null, help: null },
    ...overrides,
  };
}
