import { Schema, type Connection } from 'mongoose';
import { bumpVersion, isDuplicateKeyError, writeWithRetry } from '@pay/db';
import type { NormalizedNotification } from '@pay/providers';
import { notificationKey, type NotificationLog, type SeenNotification } from '../domain/notification-log';

interface NotificationDocument {
  _id: string;
  provider: string;
  notification_id: string;
  payment_id: string;
  outcome: string;
  /** For a refund result: the paid total, as the provider states it; the refund is in refund_*. */
  amount_minor: number;
  /** Present on refund results (WeChat REFUND.*) only: our refund id, its status and amount. */
  refund_id?: string;
  refund_status?: string;
  refund_minor?: number;
  event_id: string;
  handed_off: boolean;
  received_at: Date;
  handed_off_at: Date | null;
  /** Bumped by every update (see markHandedOff); absent on notifications recorded before it existed. */
  version?: number;
}

const schema = new Schema<NotificationDocument>(
  {
    _id: { type: String },
    provider: { type: String, required: true },
    notification_id: { type: String, required: true },
    payment_id: { type: String, required: true, index: true },
    outcome: { type: String, required: true },
    amount_minor: { type: Number, required: true },
    refund_id: { type: String },
    refund_status: { type: String },
    refund_minor: { type: Number },
    event_id: { type: String, required: true },
    handed_off: { type: Boolean, required: true },
    received_at: { type: Date, required: true },
    handed_off_at: { type: Date, default: null },
    version: { type: Number },
  },
  { collection: 'notifications', versionKey: false },
);

/** Seen notifications keyed by provider + notification id (the unique _id makes "first" atomic). */
export class NotificationRepository implements NotificationLog {
  private readonly model;

  constructor(connection: Connection) {
    this.model = connection.model<NotificationDocument>('Notification', schema);
  }

  async recordOnce(notification: NormalizedNotification, eventId: string, receivedAt: Date): Promise<SeenNotification | null> {
    const key = notificationKey(notification);
    try {
      await this.model.collection.insertOne({
        _id: key as never,
        provider: notification.provider,
        notification_id: notification.notificationId,
        payment_id: notification.paymentId,
        outcome: notification.outcome,
        amount_minor: notification.amountMinor,
        ...(notification.refund
          ? { refund_id: notification.refund.refundId, refund_status: notification.refund.status, refund_minor: notification.refund.refundMinor }
          : {}),
        event_id: eventId,
        handed_off: false,
        received_at: receivedAt,
        handed_off_at: null,
        version: 0,
      });
      return null;
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      const existing = await this.model.findById(key).lean<NotificationDocument>();
      if (!existing) throw error;
      return { key, eventId: existing.event_id, handedOff: existing.handed_off };
    }
  }

  /**
   * Duplicates of one notification arriving together, at any replica, all hand it on (same event id)
   * and mark it here. A version-guarded write (libs/db/src/versioned-write.ts): FerretDB v1 does not
   * re-check the filter of concurrent updates of one document, so the guard refuses the write of a
   * replica that lost the race, meaning another one marked it; the retry then finds it marked and
   * changes nothing.
   */
  async markHandedOff(key: string): Promise<void> {
    await writeWithRetry(`notifications/${key}`, () =>
      this.model.collection.updateOne(
        { _id: key as never, handed_off: false },
        bumpVersion({ $set: { handed_off: true, handed_off_at: new Date() } }),
      ),
    );
  }
}
