export * from './app';
export * from './validate';
export * from './server';
export * from './pagination';
