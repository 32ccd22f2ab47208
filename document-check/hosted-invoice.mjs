// The invoice documents as a customer sees them, against a running invoice-service:
// an invoice is made and finalized through the API, its hosted link is opened in headless
// Chromium (Debian's, driven by playwright-core), and what the page shows is checked; the
// PDF it links to is fetched and turned into text and a PNG with poppler. Screenshots and
// the PNG go to OUTPUT_DIR for a person to look at.
//
//   CUSTOMER_SERVICE_URL=… INVOICE_SERVICE_URL=… API_KEY=… OUTPUT_DIR=… node document-check/hosted-invoice.mjs

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const customers = process.env.CUSTOMER_SERVICE_URL;
const invoices = process.env.INVOICE_SERVICE_URL;
const key = process.env.API_KEY ?? '';
const output = process.env.OUTPUT_DIR ?? 'document-check-output';
mkdirSync(output, { recursive: true });

let failures = 0;
function check(what, ok, detail = '') {
  console.log(`${ok ? 'ok' : 'FAILED'} - ${what}${ok || !detail ? '' : `: ${detail}`}`);
  if (!ok) failures += 1;
}

async function api(base, method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: {
      'content-type': 'application/json',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

const run = Date.now().toString(36);
const customer = await api(customers, 'POST', '/customers', {
  name: 'Zoë Müller GmbH',
  email: `documents-${run}@example.com`,
});
const created = await api(invoices, 'POST', '/invoices', {
  customer_id: customer.id,
  currency: 'EUR',
  items: [
    { description: 'Beratung (Stunden)', quantity: 12, unit_amount: 15000 },
    { description: 'Reisekosten Berlin–München', quantity: 1, unit_amount: 18990 },
  ],
  tax_rate_bps: 1900,
  due_date: '2026-12-31',
  metadata: { created_by: 'document-check' },
});
check('a draft has no hosted link', created.invoice.hosted_invoice_url === null);
const { invoice } = await api(invoices, 'POST', `/invoices/${created.id}/finalize`);
const url = invoice.hosted_invoice_url;
check('a finalized invoice has a hosted link', typeof url === 'string' && url.startsWith(invoices), url);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  // No API key anywhere in the browser: the link alone opens the page.
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const answer = await page.goto(url);
  check('the hosted page opens without an API key', answer?.status() === 200, String(answer?.status()));
  await page.evaluate(() => document.fonts.ready);
  const text = await page.innerText('main');
  for (const wanted of [invoice.number, 'Zoë Müller GmbH', 'Beratung (Stunden)', 'Reisekosten Berlin–München',
    '€1,800.00', '€189.90', 'Subtotal', '€1,989.90', 'Tax (19%)', '€378.08', '€2,367.98', 'Amount due', 'OPEN',
    'Due: 31 December 2026', 'Download PDF']) {
    check(`the page shows ${wanted}`, text.includes(wanted));
  }
  check('the page uses the built-in font', await page.evaluate(() => document.fonts.check('15px "Invoice Sans"')));
  await page.screenshot({ path: join(output, 'hosted-invoice.png'), fullPage: true });

  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  await phone.goto(url);
  await phone.evaluate(() => document.fonts.ready);
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check('the page fits a phone without sideways scrolling', overflow <= 0, `${overflow}px wider`);
  await phone.screenshot({ path: join(output, 'hosted-invoice-phone.png'), fullPage: true });

  // A sample invoice in Japanese, seeded finalized: the page shows its names in the built-in font.
  const sample = await api(invoices, 'GET', '/invoices/66f000000000000000000003').catch(() => null);
  if (sample?.invoice?.hosted_invoice_url) {
    await page.goto(sample.invoice.hosted_invoice_url);
    await page.evaluate(() => document.fonts.ready);
    const japanese = await page.innerText('main');
    check('the page shows 株式会社サンプル', japanese.includes('株式会社サンプル'));
    check('the page sets Japanese in the built-in font',
      await page.evaluate(() => document.fonts.check('15px "Invoice Sans CJK"', '株式会社')));
    await page.screenshot({ path: join(output, 'hosted-invoice-japanese.png'), fullPage: true });
  }

  const link = await page.goto(url).then(() => page.getAttribute('a[download]', 'href'));
  const pdf = await page.request.get(new URL(link, url).toString());
  check('the page links to its PDF', pdf.status() === 200 && pdf.headers()['content-type'] === 'application/pdf');
  const bytes = await pdf.body();
  const file = join(output, 'hosted-invoice.pdf');
  writeFileSync(file, bytes);
  const pdfText = execFileSync('pdftotext', ['-raw', file, '-']).toString().replaceAll('\u00a0', ' ');
  for (const wanted of [invoice.number, 'Zoë Müller GmbH', 'Reisekosten Berlin–München 1 €189.90 €189.90',
    'Total €2,367.98']) {
    check(`the PDF shows ${wanted}`, pdfText.includes(wanted), pdfText);
  }
  execFileSync('pdftoppm', ['-png', '-r', '80', '-f', '1', '-l', '1', '-singlefile', file,
    join(output, 'hosted-invoice-pdf-page-1')]);

  const wrong = await page.goto(url.replace(/.$/, (c) => (c === '0' ? '1' : '0')));
  check('a wrong token is a plain 404', wrong?.status() === 404 && (await page.innerText('body')).trim() === 'Not Found');
} finally {
  await browser.close();
}

console.log(`${failures === 0 ? 'passed' : `${failures} failed`}; screenshots and the PDF's first page in ${output}`);
process.exit(failures === 0 ? 0 : 1);
