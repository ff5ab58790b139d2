/**
 * The store layer's public surface: the interfaces, both implementations, and createStore, which
 * the composition root calls with the validated config.
 */
import type { Clock } from '../clock.js';
import type { StoreConfig } from '../config/types.js';
import type { Logger } from '../logger.js';
import { MemoryStore } from './memory/index.js';
import { RedisStore } from './redis/index.js';
import type { Store } from './types.js';

export { DuplicateMessageError, StoreArgumentError } from './errors.js';
export { MemoryStore, type MemoryStoreOptions } from './memory/index.js';
export { RedisStore, type RedisStoreOptions } from './redis/index.js';
export {
  type CorrelationStore,
  type MessageStore,
  OUTBOX,
  type QueueEntry,
  type QueueStore,
  type Store,
} from './types.js';

export interface CreateStoreOptions {
  clock?: Clock;
  logger?: Logger;
  ttl: { messageSeconds: number };
  /** Whether this process claims from the queue (RedisStoreOptions.claims); default true. */
  claims?: boolean;
}

export function createStore(config: StoreConfig, options: CreateStoreOptions): Store {
  const common = {
    clock: options.clock,
    logger: options.logger,
    messageTtlSeconds: options.ttl.messageSeconds,
  };
  switch (config.kind) {
    case 'memory':
      return new MemoryStore(common);
    case 'redis':
      return new RedisStore({
        ...common,
        url: config.url,
        keyPrefix: config.keyPrefix,
        commandTimeoutMs: config.commandTimeoutMs,
        ...(options.claims === false ? { claims: false } : {}),
      });
  }
}
