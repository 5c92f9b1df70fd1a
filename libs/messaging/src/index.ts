export * from './broker';
export * from './topology';
export * from './topology-admin';
