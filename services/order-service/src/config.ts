import { z } from 'zod';
import { commonEnv, port } from '@pay/config';

export const orderConfigSchema = z.object({ ...commonEnv, ORDER_PORT: port(8082) });
