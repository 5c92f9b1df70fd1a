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

/**
 * Handed-on notifications keyed by provider + notification id. One insert per notification, after the
 * broker confirmed its event; the unique _id makes a second record of it (a duplicate handed on by
 * another replica at the same moment) fail harmlessly.
 */
export class NotificationRepository implements NotificationLog {
  private readonly model;

  constructor(connection: Connection) {
    this.model = connection.model<NotificationDocument>('Notification', schema);
  }

  async find(key: string): Promise<SeenNotification | null> {
    const existing = await this.model.findById(key).lean<NotificationDocument>();
    return existing ? { key, eventId: existing.event_id, handedOff: existing.handed_off } : null;
  }

  async recordHandedOff(notification: NormalizedNotification, eventId: string, receivedAt: Date): Promise<void> {
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
        handed_off: true,
        received_at: receivedAt,
        handed_off_at: new Date(),
        version: 0,
      });
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      await this.markHandedOff(key);
    }
  }

  /**
   * Older gateways recorded a notification before handing it on (`handed_off: false`) and marked it
   * after; such a record, left unmarked by a crash, is marked when the retry hands it on. Several
   * replicas may do so at once: a version-guarded write (libs/db/src/versioned-write.ts), since FerretDB
   * v1 does not re-check the filter of concurrent updates of one document; a replica that lost the race
   * finds it marked on the retry and changes nothing.
   */
  private async markHandedOff(key: string): Promise<void> {
    await writeWithRetry(`notifications/${key}`, () =>
      this.model.collection.updateOne(
        { _id: key as never, handed_off: false },
        bumpVersion({ $set: { handed_off: true, handed_off_at: new Date() } }),
      ),
    );
  }
}
