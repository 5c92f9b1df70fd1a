import { z } from 'zod';
import { commonEnv, metricsPort, port } from '@pay/config';

export const orderConfigSchema = z.object({ ...commonEnv, ORDER_PORT: port(8082), METRICS_PORT: metricsPort(9082) });
