import { defineServiceEvents } from '../../src';

/** The consuming "service" of the claim tests: each worker process is one replica of it. */
export const claimTestEvents = defineServiceEvents({ service: 'claim-test', emits: [], consumes: ['order.created'] });
