import mongoose, { type Connection } from 'mongoose';
import type { ApiClient } from '@pay/client';
import type { AuditVerifyResult } from '@pay/contracts';
import { databaseName } from '@pay/db';
import { testMongoUrl } from '../support/isolation';
import { eventually, startTestStack, type TestStack } from '../support/stack';

/**
 * Issue 13, through the real stack: the audit-service publishes signed anchors of its chain, the
 * order-service keeps them in its own database, and the gateway's verify compares the audit database
 * against the latest one. Someone with write access to the audit database alone cuts the chain's tail
 * and rewrites its head, then drops everything: verify says so each time. The report prints the anchor.
 */
describe('the audit chain anchored outside its database', () => {
  let system: TestStack;
  let auditor: ApiClient;
  let auditDb: Connection;
  let anchored: AuditVerifyResult;
  let anchorHash: string;

  beforeAll(async () => {
    // An anchor every 5 records and, when the head moved, every second: a small flow is anchored quickly.
    system = await startTestStack('anchor', { AUDIT_ANCHOR_EVERY: '5', AUDIT_ANCHOR_INTERVAL_S: '1' });
    auditor = system.client('auditor-anchor', 'auditor');
    const admin = system.client('admin-anchor', 'admin');
    const buyer = system.client('buyer-anchor');

    // A payments flow: product, order, payment, started, paid through a verified provider callback.
    const product = await admin.createProduct({ name: 'Anchored tea', unit_price: '12.50' });
    const order = await buyer.createOrder({ items: [{ product_id: product.id, quantity: 2 }] });
    const payment = await buyer.startPayment((await buyer.createPayment({ order_id: order.id, amount: order.total_amount })).id);
    const answer = await system.callback({ provider: 'wechatpay', paymentId: payment.id, amountMinor: 2500, status: 'SUCCESS', transactionId: 'txn-anchor-1' });
    expect(answer.status).toBe(200);
    await eventually('order paid', async () => (await buyer.getOrder(order.id)).status === 'paid');

    // The flow's records are anchored and the anchor reached the order-service (verify sees it), and
    // nothing is left to anchor: every record after the anchor is an anchor's own record.
    const actions = async () => (await auditor.getAuditEvents({ page_size: 100 })).results.map((record) => record.action);
    await eventually('order_paid audited', async () => (await actions()).includes('order_paid'));
    anchored = await eventually(
      'the flow anchored at the order-service',
      async () => {
        const result = await auditor.verifyAudit();
        const records = await auditor.getAuditEvents({ page_size: 100 });
        const paidSeq = records.results.find((record) => record.action === 'order_paid')!.seq;
        const settled = result.anchor !== null && result.anchor.seq >= paidSeq && records.results.filter((record) => record.seq > result.anchor!.seq).every((record) => record.action === 'audit_checkpoint');
        return settled ? result : undefined;
      },
      30_000,
    );
    const records = await auditor.getAuditEvents({ page_size: 100 });
    anchorHash = records.results.find((record) => record.seq === anchored.anchor!.seq)!.hash;

    auditDb = mongoose.createConnection(testMongoUrl(), { dbName: databaseName(system.prefix, 'audit'), maxPoolSize: 2 });
    await auditDb.asPromise();
  }, 180_000);

  afterAll(async () => {
    await auditDb?.close();
    await system?.stop();
  });

  it('verifies against the anchor the order-service keeps, keyed, saying what is not covered yet', () => {
    expect(anchored).toMatchObject({ ok: true, keyed: true, anchor: { seq: expect.any(Number), anchored_at: expect.any(String) } });
    expect(anchored.unanchored_records).toBeGreaterThanOrEqual(0);
  });

  it('prints the last anchor in the daily report, JSON and CSV', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const report = (await auditor.getDailyReport(today)) as { last_anchor: { seq: number; hash: string; anchored_at: string } | null };
    expect(report.last_anchor).toMatchObject({ seq: anchored.anchor!.seq, hash: anchorHash });
    const csv = await fetch(`${system.stack.gatewayUrl}/api/v1/audit/reports/daily?date=${today}&format=csv`, {
      headers: { authorization: `Bearer ${system.token('auditor-csv', 'auditor')}` },
    });
    const rows = (await csv.text()).split('\r\n');
    expect(rows).toEqual(expect.arrayContaining([`last_anchor.seq,${anchored.anchor!.seq}`, `last_anchor.hash,${anchorHash}`]));
  });

  it('reports a tail cut below the anchor with the head rewritten to the survivor', async () => {
    const records = auditDb.collection('audit_records');
    const survivorSeq = anchored.anchor!.seq - 2;
    const survivor = (await records.findOne({ seq: survivorSeq }))!;
    await records.deleteMany({ seq: { $gt: survivorSeq } });
    await auditDb.collection('chain_checkpoints').deleteMany({ _id: { $gt: survivorSeq } as never });
    const head = (await auditDb.collection('chain_head').findOne({ _id: 'head' as never }))!;
    await auditDb.collection('chain_head').updateOne({ _id: 'head' as never }, { $set: { seq: survivorSeq, hash: survivor.hash as string }, $inc: { version: 1 } });
    expect(head.seq).toBeGreaterThan(survivorSeq);

    const result = await auditor.verifyAudit();
    expect(result.ok).toBe(false);
    expect(['head_forged', 'truncated_below_anchor']).toContain(result.first_bad?.problem);
  });

  it('reports every record and the head dropped: the anchor outlives them', async () => {
    for (const name of ['audit_records', 'chain_head', 'chain_checkpoints']) await auditDb.collection(name).deleteMany({});
    const result = await auditor.verifyAudit({ full: true });
    expect(result).toMatchObject({ ok: false, checked: 0, anchor: { seq: anchored.anchor!.seq }, first_bad: { problem: 'truncated_below_anchor' } });
  });
});
