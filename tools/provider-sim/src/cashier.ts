import express, { type Request, type Response, type Router } from 'express';
import { formatMinorAmount } from '@pay/money';
import type { ProviderName } from '@pay/providers';
import type { SimContext } from './context';
import { PROVIDERS } from './faults';
import { type SimOrder, statusWord } from './ledger';
import { NORMAL } from './notifier';
import { markOpened, settleOrder } from './settle';

/**
 * The buyer's page: what a scanned QR code or a cashier link opens. Plain HTML, no scripts or external
 * assets, everything escaped (descriptions come from merchants' requests).
 */

const PROVIDER_TITLES: Record<ProviderName, string> = { wechatpay: 'WeChat Pay', alipay: 'Alipay', mock: 'Mock provider' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char] ?? char);
}

function page(res: Response, status: number, title: string, body: string): void {
  res
    .status(status)
    .set({
      'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-store',
    })
    .type('html')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
        `<title>${escapeHtml(title)}</title><style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}` +
        `dt{color:#666}dd{margin:0 0 .8rem}form{display:inline}button{font-size:1.1rem;padding:.5rem 1.5rem;margin-right:.5rem}</style></head>` +
        `<body><h1>${escapeHtml(title)}</h1>${body}<p><small>Provider simulator: development and tests only.</small></p></body></html>`,
    );
}

function orderDetails(order: SimOrder): string {
  return (
    `<dl><dt>Amount</dt><dd>¥ ${escapeHtml(formatMinorAmount(order.amountMinor))}</dd>` +
    `<dt>Description</dt><dd>${escapeHtml(order.description)}</dd>` +
    `<dt>Order</dt><dd>${escapeHtml(order.outTradeNo)}</dd>` +
    `<dt>Status</dt><dd>${escapeHtml(statusWord(order))}</dd></dl>`
  );
}

export function createCashierRouter(context: SimContext): Router {
  function findOrder(req: Request, res: Response): SimOrder | null {
    const provider = PROVIDERS.find((name) => name === req.params.provider);
    const order = provider && context.providers[provider] ? context.ledger.order(provider, String(req.params.out_trade_no)) : undefined;
    if (!order) {
      page(res, 404, 'Order not found', '<p>There is no such order at this provider.</p>');
      return null;
    }
    return order;
  }

  const router = express.Router();

  router.get('/:provider/:out_trade_no', (req, res) => {
    const order = findOrder(req, res);
    if (!order) return;
    // Opening the page is the buyer scanning the code: an Alipay precreate trade now exists.
    markOpened(order);
    const payable = order.paidAt === null && order.state === 'pending';
    const base = `/cashier/${order.provider}/${encodeURIComponent(order.outTradeNo)}`;
    const buttons = payable
      ? `<form method="post" action="${escapeHtml(`${base}/pay`)}"><button type="submit">Pay</button></form>` +
        `<form method="post" action="${escapeHtml(`${base}/fail`)}"><button type="submit">Fail</button></form>`
      : '<p>This order cannot be paid any more.</p>';
    page(res, 200, `${PROVIDER_TITLES[order.provider]} cashier`, orderDetails(order) + buttons);
  });

  for (const action of ['pay', 'fail'] as const) {
    router.post(`/:provider/:out_trade_no/${action}`, (req, res) => {
      const order = findOrder(req, res);
      if (!order) return;
      const refused = settleOrder(context, order, action, NORMAL);
      if (refused) {
        page(res, 409, 'Not possible', `<p>${escapeHtml(refused.message)}.</p>${orderDetails(order)}`);
        return;
      }
      page(res, 200, action === 'pay' ? 'Payment done' : 'Payment failed', orderDetails(order));
    });
  }

  return router;
}
