export * from './events';
export * from './http';
export * from './identity';
export * from './producers';
export * from './providers';
export * from './service-process';
