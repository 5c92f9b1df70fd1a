import { z } from 'zod';

/**
 * What a service process tells the process that started it, over Node's IPC channel when it has one (the
 * test harness and `npm start` open one), once both its listeners are bound: the ports it actually got.
 * With METRICS_PORT=0 the OS picks the internal port, so the starter cannot know it any other way, and
 * the public port must not tell it.
 */
export const serviceListeningMessage = z
  .object({
    type: z.literal('service.listening'),
    service: z.string(),
    port: z.number().int().min(1).max(65535),
    metrics_port: z.number().int().min(1).max(65535),
  })
  .strict();
export type ServiceListeningMessage = z.infer<typeof serviceListeningMessage>;
