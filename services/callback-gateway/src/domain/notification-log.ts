import type { NormalizedNotification } from '@pay/providers';

export interface SeenNotification {
  key: string;
  eventId: string;
  handedOff: boolean;
}

/**
 * Notifications handed on before (replay protection). A notification is recorded once, after its event
 * was confirmed by the broker: one write per notification. One that was never handed on has no record,
 * so the provider's retry hands it on (the same event id: consumers apply it once).
 */
export interface NotificationLog {
  /** The record of a notification seen before, if any (`handedOff` false only on records of older gateways). */
  find(key: string): Promise<SeenNotification | null>;
  /** Records a notification whose event the broker confirmed; recording it again changes nothing. */
  recordHandedOff(notification: NormalizedNotification, eventId: string, receivedAt: Date): Promise<void>;
}

export function notificationKey(notification: Pick<NormalizedNotification, 'provider' | 'notificationId'>): string {
  return `${notification.provider}:${notification.notificationId}`;
}
