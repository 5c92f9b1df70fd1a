import type { NormalizedNotification } from '@pay/providers';

export interface SeenNotification {
  key: string;
  eventId: string;
  handedOff: boolean;
}

/** Notifications seen before (replay protection) and whether each was durably handed on. */
export interface NotificationLog {
  /** Records the notification; returns the earlier record if it was already seen. */
  recordOnce(notification: NormalizedNotification, eventId: string, receivedAt: Date): Promise<SeenNotification | null>;
  markHandedOff(key: string): Promise<void>;
}

export function notificationKey(notification: Pick<NormalizedNotification, 'provider' | 'notificationId'>): string {
  return `${notification.provider}:${notification.notificationId}`;
}
