/** The broker cannot take the message now (not connected, refused, unroutable): the caller keeps it. */
export class BrokerUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BrokerUnavailable';
  }
}

/** A service tried to publish an event type its declaration (`src/events.ts`) does not list in `emits`. */
export class UndeclaredEvent extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UndeclaredEvent';
  }
}
