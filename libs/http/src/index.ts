export * from './app';
export * from './internal-app';
export * from './readiness';
export * from './validate';
export * from './server';
export * from './protocol-errors';
export * from './pagination';
