import type { Model } from 'mongoose';
import type { EventEnvelope } from '@pay/contracts';

/**
 * The events stored for one aggregate, in the order they were stored: each is either still in the
 * document's outbox or already published by the relay (or, for a moment, both).
 */
export async function storedEventTypes(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  model: Model<any>,
  id: string,
  published: readonly EventEnvelope[],
  belongs: (event: EventEnvelope) => boolean,
): Promise<string[]> {
  const document = await model.collection.findOne({ _id: id as never });
  const pending = Object.entries((document?.outbox ?? {}) as Record<string, EventEnvelope>)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([, event]) => event);
  const all = new Map<string, EventEnvelope>();
  for (const event of [...published, ...pending]) if (belongs(event)) all.set(event.id, event);
  return [...all.values()].map((event) => event.type);
}
