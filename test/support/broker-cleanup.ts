import { deleteBrokerTopology as deleteTopology, type ServiceEvents } from '@pay/messaging';
import { ALL_SERVICE_EVENTS } from '../../libs/harness/src/topology';

/** Removes a test's exchange and the queues of every service (and of the test's own declarations). */
export function deleteBrokerTopology(url: string, prefix: string, retryDelaysMs?: readonly number[], testDeclarations: readonly ServiceEvents[] = []): Promise<void> {
  return deleteTopology(url, prefix, [...ALL_SERVICE_EVENTS, ...testDeclarations], retryDelaysMs);
}
