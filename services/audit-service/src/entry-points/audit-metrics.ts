import { Counter, Gauge, type Registry } from '@pay/metrics';

/** The audit service's own figures, on the service registry (served at /metrics). */
export function createAuditMetrics(registry: Registry) {
  return {
    recordsTotal: new Counter({
      name: 'audit_records_total',
      help: 'Audit records appended, by action',
      labelNames: ['action'] as const,
      registers: [registry],
    }),
    chainLength: new Gauge({ name: 'audit_chain_length', help: 'Records in the audit hash chain (seq of its end)', registers: [registry] }),
  };
}
export type AuditMetrics = ReturnType<typeof createAuditMetrics>;
