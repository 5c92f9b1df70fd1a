import { Schema, type Connection } from 'mongoose';
import type { Inbox } from '@pay/messaging';
import { isDuplicateKeyError } from './duplicate-key';

interface ProcessedEvent {
  _id: string;
  type: string;
  processed_at: Date;
}

export type MongoInbox = Inbox;

/**
 * Consumer-side idempotency: the ids of events whose effect is stored. A redelivered event is
 * acknowledged without running its effect again. (Each handler is also state-guarded, so a crash
 * between the effect and `record` cannot double-apply either.)
 */
export function createInbox(connection: Connection): Inbox {
  const model = connection.model<ProcessedEvent>(
    'ProcessedEvent',
    new Schema<ProcessedEvent>(
      { _id: { type: String }, type: { type: String, required: true }, processed_at: { type: Date, required: true } },
      { collection: 'processed_events', versionKey: false },
    ),
  );
  return {
    async seen(eventId) {
      return (await model.exists({ _id: eventId })) !== null;
    },
    async record(eventId, type) {
      try {
        await model.create({ _id: eventId, type, processed_at: new Date() });
      } catch (error) {
        if (!isDuplicateKeyError(error)) throw error;
      }
    },
  };
}
