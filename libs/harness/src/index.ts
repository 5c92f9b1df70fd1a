export * from './ferretdb';
export * from './infrastructure';
export * from './ports';
export * from './services';
export * from './dev-env';
export * from './simulator';
export * from './version-guard';
