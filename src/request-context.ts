import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from './log.ts';

/** Per-request values that code far from the request (error masking, services' logs) may read. */
export interface RequestScope {
  requestId: string;
  log: Logger;
}

export const requestScope = new AsyncLocalStorage<RequestScope>();
