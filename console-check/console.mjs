// The operator console as an operator uses it, against the running services with API keys:
// headless Chromium (Debian's, driven by playwright-core) signs in, makes a customer and an
// invoice through the forms, takes the invoice to paid, finds it in the list, loses an edit
// race to a second session and recovers from it, sends a form without its CSRF token, and
// opens every other page. Every page visited is screenshotted to OUTPUT_DIR, checked with
// axe-core (no serious or critical violation) and searched for the API key (never in its
// HTML or its URL). What the forms did is checked through the services' own APIs.
//
//   CONSOLE_URL=… CUSTOMER_SERVICE_URL=… INVOICE_SERVICE_URL=… API_KEY=… OUTPUT_DIR=… \
//     node console-check/console.mjs

import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axePath = require.resolve('axe-core/axe.min.js');

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`console-check: ${name} is not set`);
    process.exit(2);
  }
  return value.replace(/\/+$/, '');
}
const consoleUrl = required('CONSOLE_URL');
const customers = required('CUSTOMER_SERVICE_URL');
const invoices = required('INVOICE_SERVICE_URL');
const key = required('API_KEY');
const output = process.env.OUTPUT_DIR ?? 'console-check-output';
mkdirSync(output, { recursive: true });

const run = Date.now().toString(36);
const wrongKey = `wrong-${run}-0123456789abcdef`;
// Strings that must never reach a page's HTML or any URL the browser sees.
const secrets = [key, wrongKey];

let failures = 0;
function check(what, ok, detail = '') {
  console.log(`${ok ? 'ok' : 'FAILED'} - ${what}${ok || !detail ? '' : `: ${detail}`}`);
  if (!ok) failures += 1;
  return ok;
}

// A service's answer: status, ETag and parsed body.
async function api(base, method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${base}${path}: ${response.status} ${text}`);
  return { status: response.status, etag: response.headers.get('etag'), json: JSON.parse(text) };
}

// Whether URL (or what it decodes to) holds one of the secrets.
function leaks(url) {
  let decoded = url;
  try { decoded = decodeURIComponent(url); } catch { /* not percent-encoded text: as it is */ }
  return secrets.filter((s) => url.includes(s) || decoded.includes(s));
}

const unquote = (tag) => String(tag ?? '').replace(/^W\//, '').replace(/^"|"$/g, '');

// ------------------------------------------------------------------ pages
let shot = 0;
let pagesChecked = 0;
const visitedUrls = [];

// What the console shows as the page's one-line messages.
const alertText = (page) => page.locator('[role=alert]').allInnerTexts().then((t) => t.join(' | '));
const noticeText = (page) => page.locator('[role=status]').allInnerTexts().then((t) => t.join(' | '));
const heading = (page) => page.locator('h1').first().innerText().then((t) => t.trim());

// page: a full-page screenshot NN-name.png, then the checks every page gets: the layout the
// spec asks of every page, no API key in its HTML or URL, and axe-core's serious and critical
// violations.
async function snapshot(page, name, { signedIn = true } = {}) {
  shot += 1;
  pagesChecked += 1;
  const file = `${String(shot).padStart(2, '0')}-${name}.png`;
  await page.waitForLoadState('load');
  await page.screenshot({ path: join(output, file), fullPage: true });
  const url = page.url();
  const path = new URL(url).pathname + new URL(url).search;
  visitedUrls.push(url);

  const html = await page.content();
  const leaked = [...new Set([...secrets.filter((s) => html.includes(s)), ...leaks(url)])];
  check(`${file} (${path}): no API key in its HTML or URL`, leaked.length === 0,
    leaked.map((s) => (s === key ? 'the API key' : 'the refused key')).join(', '));

  const layout = await page.evaluate(() => ({
    lang: document.documentElement.lang,
    title: document.title,
    h1: document.querySelectorAll('h1').length,
    main: !!document.querySelector('main#content'),
    skip: [...document.querySelectorAll('a[href="#content"]')].some((a) => /skip to content/i.test(a.textContent)),
    nav: [...document.querySelectorAll('nav[aria-label="Main"] a')].map((a) => a.textContent.trim()),
    signOut: [...document.querySelectorAll('button')].some((b) => b.textContent.trim() === 'Sign out'),
  }));
  const problems = [];
  if (layout.lang !== 'en') problems.push(`html lang is "${layout.lang}"`);
  if (!layout.title.endsWith(' · Billing console')) problems.push(`title "${layout.title}" does not end with " · Billing console"`);
  if (layout.h1 !== 1) problems.push(`${layout.h1} h1 elements`);
  if (!layout.main) problems.push('no <main id="content">');
  if (!layout.skip) problems.push('no "Skip to content" link to #content');
  if (signedIn) {
    const missing = ['Customers', 'Invoices', 'Events', 'Webhooks', 'Status'].filter((l) => !layout.nav.includes(l));
    if (missing.length) problems.push(`nav "Main" lacks ${missing.join(', ')} (has ${layout.nav.join(', ') || 'nothing'})`);
    if (!layout.signOut) problems.push('no "Sign out" button');
  }
  check(`${file}: layout (lang, title, one h1, main#content, skip link${signedIn ? ', nav, Sign out' : ''})`,
    problems.length === 0, problems.join('; '));

  await page.addScriptTag({ path: axePath });
  const violations = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const result = await axe.run(document, { resultTypes: ['violations'] });
    if (result.passes.length === 0) return ['axe-core checked nothing on this page'];
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}: ${v.help}) at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}` +
        `${v.nodes[0]?.failureSummary ? ` [${v.nodes[0].failureSummary.replace(/\s+/g, ' ')}]` : ''}`);
  });
  check(`${file}: axe-core finds no serious or critical violation`, violations.length === 0, violations.join('; '));
  return file;
}

// Clicks LOCATOR, which submits a form by POST, and waits until the page it leads to has
// loaded; answers the POST's own response (a 303, or the page itself for 4xx).
async function submit(page, locator) {
  const posted = page.waitForResponse((r) => r.request().isNavigationRequest() &&
    r.request().method() === 'POST' && r.frame() === page.mainFrame());
  const loaded = page.waitForEvent('load');
  await locator.click();
  const response = await posted;
  await loaded;
  return response;
}

const button = (page, name) => page.getByRole('button', { name, exact: true });
const link = (page, name) => page.getByRole('link', { name, exact: true });
const field = (page, label) => page.getByLabel(label, { exact: true });
const nav = (page, name) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });

async function signIn(page, apiKey) {
  await page.goto(`${consoleUrl}/sign-in`);
  await field(page, 'API key').fill(apiKey);
  return submit(page, button(page, 'Sign in'));
}

// ------------------------------------------------------------------ the run
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const contexts = [];
// bypassCSP: axe-core goes in as an inline script, which the console's CSP rightly refuses.
async function newContext(options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true, ...options });
  context.setDefaultTimeout(15000);
  // A confirm() before a destructive button is answered yes, as the operator would.
  context.on('page', (p) => p.on('dialog', (dialog) => dialog.accept()));
  // Every URL the browser asks for and every redirect it is given, for the key check.
  context.on('request', (request) => visitedUrls.push(request.url()));
  context.on('response', (response) => {
    const location = response.headers().location;
    if (location) visitedUrls.push(location);
  });
  contexts.push(context);
  return context;
}

let step = 'start';
let exitCode = 0;
try {
  const first = await newContext();
  const page = await first.newPage();

  // axe-core itself: on a page made to fail, it finds the failure.
  step = 'axe-core';
  await page.setContent('<!doctype html><html><head><title>t</title></head><body><img src="x.png"></body></html>');
  await page.addScriptTag({ path: axePath });
  // eslint-disable-next-line no-undef
  const selfTest = await page.evaluate(async () => (await axe.run(document)).violations.map((v) => `${v.id}:${v.impact}`));
  check(`axe-core ${await page.evaluate(() => axe.version)} runs in the page (it flags an <img> without alt as critical)`,
    selfTest.includes('image-alt:critical'), selfTest.join(', '));

  // (a) Signed out: any page leads to the sign-in page; a wrong key is refused.
  step = 'signed out';
  let response = await page.goto(`${consoleUrl}/customers`);
  const redirect = response.request().redirectedFrom()?.response();
  check('signed out, /customers redirects (303) to /sign-in',
    new URL(page.url()).pathname === '/sign-in' && (await redirect)?.status() === 303,
    `ended at ${page.url()}, redirect status ${(await redirect)?.status()}`);
  check('the sign-in page answers 200 with heading "Sign in"', response.status() === 200 && (await heading(page)) === 'Sign in',
    `${response.status()} "${await heading(page)}"`);
  const keyInput = field(page, 'API key');
  const inputAttributes = await keyInput.evaluate((el) => `${el.type} ${el.name} ${el.id} ${el.autocomplete}`);
  check('the "API key" input is type=password name=api_key id=api_key autocomplete=off',
    inputAttributes === 'password api_key api_key off', inputAttributes);
  check('with API keys configured, the sign-in page does not claim open mode',
    !(await page.content()).includes('Open mode'));
  let cookies = await first.cookies(consoleUrl);
  check('the sign-in page sets a cookie', cookies.length > 0, 'none');
  for (const c of cookies) {
    check(`cookie ${c.name}: HttpOnly, SameSite=Strict, Secure, Path=/`,
      c.httpOnly && c.sameSite === 'Strict' && c.secure && c.path === '/',
      `httpOnly=${c.httpOnly} sameSite=${c.sameSite} secure=${c.secure} path=${c.path}`);
  }
  await snapshot(page, 'sign-in', { signedIn: false });

  step = '(a) a wrong key';
  await keyInput.fill(wrongKey);
  response = await submit(page, button(page, 'Sign in'));
  check('a wrong key: 401 with "That API key was refused." in a role=alert',
    response.status() === 401 && (await alertText(page)).includes('That API key was refused.'),
    `${response.status()}, alert "${await alertText(page)}"`);
  await snapshot(page, 'sign-in-refused', { signedIn: false });

  // (b) The right key.
  step = '(b) sign in';
  await field(page, 'API key').fill(key);
  response = await submit(page, button(page, 'Sign in'));
  check('the right key: 303 to /customers', response.status() === 303 && new URL(page.url()).pathname === '/customers',
    `${response.status()}, now at ${page.url()}`);
  check('the customers page has heading "Customers"', (await heading(page)) === 'Customers', await heading(page));
  cookies = await first.cookies(consoleUrl);
  check('after sign-in every console cookie is HttpOnly, SameSite=Strict and does not hold the key in clear',
    cookies.length > 0 && cookies.every((c) => c.httpOnly && c.sameSite === 'Strict' && !c.value.includes(key)),
    JSON.stringify(cookies.map(({ name, httpOnly, sameSite }) => ({ name, httpOnly, sameSite }))));
  await snapshot(page, 'customers');
  response = await page.goto(`${consoleUrl}/`);
  check('/ leads to /customers', new URL(page.url()).pathname === '/customers', page.url());

  // (c) A customer through the form.
  step = '(c) new customer';
  const name = `Zoë Müller ${run}`;
  const email = `console-${run}@example.com`;
  await link(page, 'New customer').click();
  await page.waitForURL(/\/customers\/new$/);
  check('"New customer" opens the form headed "New customer"', (await heading(page)) === 'New customer', await heading(page));
  await field(page, 'Name').fill(name);
  await field(page, 'Email').fill(email);
  await field(page, 'Phone').fill('+49 30 1234567');
  await field(page, 'Address line 1').fill('Hauptstraße 5');
  await field(page, 'Address line 2').fill('2. OG');
  await field(page, 'City').fill('Berlin');
  await field(page, 'State').fill('BE');
  await field(page, 'Postal code').fill('10115');
  await field(page, 'Country').fill('DE');
  await snapshot(page, 'new-customer');
  response = await submit(page, button(page, 'Create customer'));
  const customerPath = new URL(page.url()).pathname;
  const customerId = customerPath.match(/^\/customers\/([0-9a-f]{24})$/)?.[1];
  check('"Create customer": 303 to /customers/{id}', response.status() === 303 && !!customerId,
    `${response.status()}, now at ${page.url()}; ${await alertText(page)}`);
  if (!customerId) throw new Error('no customer was created');
  check('the customer page is headed with its name', (await heading(page)) === name, await heading(page));
  check('the customer page shows the notice "Customer created."', (await noticeText(page)).includes('Customer created.'),
    await noticeText(page));
  const customerText = await page.locator('main').innerText();
  check('the customer page shows its email, phone and city',
    [email, '+49 30 1234567', 'Berlin'].every((s) => customerText.includes(s)));
  await snapshot(page, 'customer-created');
  const stored = (await api(customers, 'GET', `/customers/${customerId}`)).json;
  check('customer-service has the customer as typed',
    stored.name === name && stored.email === email && stored.phone === '+49 30 1234567' &&
    stored.address?.line1 === 'Hauptstraße 5' && stored.address?.line2 === '2. OG' && stored.address?.city === 'Berlin' &&
    stored.address?.state === 'BE' && stored.address?.postal_code === '10115' && stored.address?.country === 'DE',
    JSON.stringify(stored));

  // ... and it is found in the list.
  await nav(page, 'Customers').click();
  await page.waitForURL(/\/customers(\?.*)?$/);
  await field(page, 'Search by name or email').fill(email);
  await button(page, 'Search').click();
  // A plain GET form navigates; should htmx take the submit over, the list is swapped in place.
  await page.waitForURL(/[?&]search=/, { timeout: 5000 }).catch(() => {});
  await page.waitForLoadState('load');
  const found = link(page, name);
  await found.first().waitFor();
  check('searching the customers by email lists it, linked to its page',
    (await found.first().getAttribute('href'))?.endsWith(`/customers/${customerId}`), await found.first().getAttribute('href'));
  await page.waitForLoadState('load');
  await snapshot(page, 'customers-search');

  // (d) An invoice from the customer's page.
  step = '(d) new invoice';
  await page.goto(`${consoleUrl}/customers/${customerId}`);
  await link(page, 'New invoice').click();
  await page.waitForURL(/\/invoices\/new\?/);
  check('"New invoice" opens the form headed "New invoice"', (await heading(page)) === 'New invoice', await heading(page));
  check('Customer ID is prefilled', (await field(page, 'Customer ID').inputValue()) === customerId,
    await field(page, 'Customer ID').inputValue());
  check('Currency defaults to EUR', (await field(page, 'Currency').inputValue()) === 'EUR', await field(page, 'Currency').inputValue());
  check('the form starts with 3 line rows', (await page.getByLabel(/^Line \d+ description$/).count()) === 3,
    String(await page.getByLabel(/^Line \d+ description$/).count()));
  await field(page, 'Tax rate (basis points)').fill('1900');
  await field(page, 'Due date').fill('2026-12-31');
  await field(page, 'Line 1 description').fill('Consulting (hours)');
  await field(page, 'Line 1 quantity').fill('10');
  await field(page, 'Line 1 unit amount (minor units)').fill('15000');
  await field(page, 'Line 2 description').fill('Travel Berlin–Munich');
  await field(page, 'Line 2 quantity').fill('1');
  await field(page, 'Line 2 unit amount (minor units)').fill('18990');
  response = await submit(page, button(page, 'Add a line'));
  check('"Add a line" gives a 4th row and keeps what was typed',
    response.status() < 400 && (await page.getByLabel(/^Line \d+ description$/).count()) === 4 &&
    (await field(page, 'Line 2 description').inputValue()) === 'Travel Berlin–Munich' &&
    (await field(page, 'Line 1 unit amount (minor units)').inputValue()) === '15000' &&
    (await field(page, 'Tax rate (basis points)').inputValue()) === '1900',
    `${response.status()}, ${await page.getByLabel(/^Line \d+ description$/).count()} rows`);
  await snapshot(page, 'new-invoice');
  response = await submit(page, button(page, 'Create invoice'));
  const invoiceId = new URL(page.url()).pathname.match(/^\/invoices\/([0-9a-f]{24})$/)?.[1];
  check('"Create invoice": 303 to /invoices/{id}', response.status() === 303 && !!invoiceId,
    `${response.status()}, now at ${page.url()}; ${await alertText(page)}`);
  if (!invoiceId) throw new Error('no invoice was created');
  check('the invoice page is headed "Draft invoice"', (await heading(page)) === 'Draft invoice', await heading(page));
  check('the invoice page shows the notice "Invoice created."', (await noticeText(page)).includes('Invoice created.'),
    await noticeText(page));
  let invoiceText = await page.locator('main').innerText();
  check('the draft shows its lines and total (EUR 2,010.98)',
    ['Consulting (hours)', 'Travel Berlin–Munich', '2,010.98'].every((s) => invoiceText.includes(s)), invoiceText);
  await snapshot(page, 'invoice-draft');
  let invoice = (await api(invoices, 'GET', `/invoices/${invoiceId}`)).json.invoice;
  check('invoice-service has the draft: 2 lines (the empty rows ignored), 19 %, due 2026-12-31, total 201098',
    invoice.status === 'draft' && invoice.items.length === 2 && invoice.tax_rate_bps === 1900 &&
    invoice.due_date === '2026-12-31' && invoice.total === 201098 && invoice.customer_id === customerId,
    JSON.stringify(invoice));

  // (e) Finalize, then Pay.
  step = '(e) finalize and pay';
  response = await submit(page, button(page, 'Finalize'));
  const h1 = await heading(page);
  const number = h1.match(/^Invoice (INV-\d{6,})$/)?.[1];
  check('"Finalize": 303 back, headed "Invoice INV-…", notice "Invoice finalized."',
    response.status() === 303 && !!number && (await noticeText(page)).includes('Invoice finalized.'),
    `${response.status()}, "${h1}", notice "${await noticeText(page)}", alert "${await alertText(page)}"`);
  invoice = (await api(invoices, 'GET', `/invoices/${invoiceId}`)).json.invoice;
  check('invoice-service has it open with that number', invoice.status === 'open' && invoice.number === number,
    `${invoice.status} ${invoice.number}`);
  const hosted = link(page, 'Hosted page');
  check('the open invoice links to its hosted page',
    (await hosted.count()) === 1 && (await hosted.getAttribute('href')) === invoice.hosted_invoice_url,
    `${await hosted.count()} links; ${invoice.hosted_invoice_url}`);
  const pdfHref = await link(page, 'PDF').getAttribute('href');
  const pdf = await first.request.get(new URL(pdfHref, page.url()).toString());
  const pdfBody = await pdf.body();
  check('the "PDF" link answers the invoice as application/pdf',
    pdf.status() === 200 && pdf.headers()['content-type'] === 'application/pdf' && pdfBody.subarray(0, 5).toString() === '%PDF-',
    `${pdf.status()} ${pdf.headers()['content-type']}`);
  await snapshot(page, 'invoice-open');
  response = await submit(page, button(page, 'Pay'));
  invoiceText = await page.locator('main').innerText();
  check('"Pay": 303 back, notice "Invoice paid.", status paid shown',
    response.status() === 303 && (await noticeText(page)).includes('Invoice paid.') && /\bpaid\b/i.test(invoiceText),
    `${response.status()}, notice "${await noticeText(page)}", alert "${await alertText(page)}"`);
  check('a paid invoice offers no more transitions',
    (await button(page, 'Pay').count()) + (await button(page, 'Void').count()) + (await button(page, 'Finalize').count()) === 0);
  await snapshot(page, 'invoice-paid');
  invoice = (await api(invoices, 'GET', `/invoices/${invoiceId}`)).json.invoice;
  check('invoice-service has it paid, nothing due', invoice.status === 'paid' && invoice.amount_due === 0,
    `${invoice.status}, amount_due ${invoice.amount_due}`);

  // (f) The invoices list filtered by Status paid.
  step = '(f) invoices list';
  await nav(page, 'Invoices').click();
  await page.waitForURL(/\/invoices(\?.*)?$/);
  check('the invoices page has heading "Invoices"', (await heading(page)) === 'Invoices', await heading(page));
  await field(page, 'Status').selectOption('paid');
  await Promise.all([page.waitForURL(/status=paid/), button(page, 'Filter').click()]);
  await page.waitForLoadState('load');
  // Oldest first: follow "Next page" until the invoice shows (a few pages at most).
  let row = page.locator('tbody tr').filter({ has: link(page, number) });
  for (let pages = 0; (await row.count()) === 0 && pages < 20 && (await link(page, 'Next page').count()) > 0; pages += 1) {
    await Promise.all([page.waitForEvent('load'), link(page, 'Next page').click()]);
    row = page.locator('tbody tr').filter({ has: link(page, number) });
  }
  check(`Status paid lists ${number} with its total EUR 2,010.98`,
    (await row.count()) === 1 && (await row.innerText()).includes('EUR 2,010.98'),
    (await row.count()) ? await row.innerText() : 'not listed');
  const statuses = await page.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.cells[2]?.textContent.trim()));
  check('every invoice listed under Status paid is paid', statuses.length > 0 && statuses.every((s) => /^paid$/i.test(s)),
    statuses.join(', '));
  await snapshot(page, 'invoices-paid');

  // (g) Two sessions edit the same customer.
  step = '(g) edit race';
  const second = await newContext();
  const other = await second.newPage();
  response = await signIn(other, key);
  check('a second session signs in', response.status() === 303 && new URL(other.url()).pathname === '/customers',
    `${response.status()} ${other.url()}`);
  await page.goto(`${consoleUrl}/customers/${customerId}`);
  await link(page, 'Edit').click();
  await page.waitForURL(/\/edit$/);
  await other.goto(`${consoleUrl}/customers/${customerId}/edit`);
  check('both sessions have the edit form headed "Edit customer", prefilled',
    (await heading(page)) === 'Edit customer' && (await heading(other)) === 'Edit customer' &&
    (await field(other, 'Name').inputValue()) === name && (await field(other, 'Email').inputValue()) === email,
    `"${await heading(page)}" / "${await heading(other)}"`);
  await snapshot(page, 'edit-customer');
  const renamed = `${name} (renamed)`;
  const secondPhone = '+49 30 7654321';
  await field(page, 'Name').fill(renamed);
  response = await submit(page, button(page, 'Save changes'));
  check('the first session saves the new name: 303, notice "Customer saved."',
    response.status() === 303 && (await noticeText(page)).includes('Customer saved.') && (await heading(page)) === renamed,
    `${response.status()}, "${await heading(page)}", notice "${await noticeText(page)}"`);
  await snapshot(page, 'customer-saved');
  const afterFirst = await api(customers, 'GET', `/customers/${customerId}`);
  await field(other, 'Phone').fill(secondPhone);
  response = await submit(other, button(other, 'Save changes'));
  const conflict = await alertText(other);
  check('the second session\'s save: 412, "This customer was changed by someone else"',
    response.status() === 412 && conflict.includes('This customer was changed by someone else'),
    `${response.status()}, alert "${conflict}"`);
  check('the 412 page keeps the phone the second operator typed',
    (await field(other, 'Phone').inputValue()) === secondPhone, await field(other, 'Phone').inputValue());
  check('the 412 alert shows the current name', conflict.includes(renamed), conflict);
  const version = await other.locator('input[name=version]').first().inputValue();
  check('the 412 form carries the current version', unquote(version) === unquote(afterFirst.etag),
    `form ${version}, ETag ${afterFirst.etag}`);
  const afterConflict = await api(customers, 'GET', `/customers/${customerId}`);
  check('the refused save changed nothing', afterConflict.etag === afterFirst.etag && afterConflict.json.phone === '+49 30 1234567',
    `${afterConflict.etag} ${afterConflict.json.phone}`);
  await snapshot(other, 'edit-customer-conflict');
  response = await submit(other, button(other, 'Save changes'));
  check('"Save changes" again saves: 303, notice "Customer saved."',
    response.status() === 303 && (await noticeText(other)).includes('Customer saved.'),
    `${response.status()}, notice "${await noticeText(other)}", alert "${await alertText(other)}"`);
  const afterSecond = await api(customers, 'GET', `/customers/${customerId}`);
  check('customer-service has the second operator\'s phone', afterSecond.json.phone === secondPhone, afterSecond.json.phone);
  await snapshot(other, 'customer-saved-after-conflict');

  // (h) A form without its CSRF token.
  step = '(h) csrf';
  const before = await api(customers, 'GET', `/customers/${customerId}`);
  await page.goto(`${consoleUrl}/customers/${customerId}/edit`);
  await field(page, 'Name').fill('Forged name');
  const removed = await page.evaluate(() => {
    const inputs = [...document.querySelectorAll('form input[name=csrf]')];
    inputs.forEach((i) => i.remove());
    return inputs.length;
  });
  check('the edit form carries a hidden csrf input', removed >= 1, String(removed));
  response = await submit(page, button(page, 'Save changes'));
  const refusedText = await page.locator('main').innerText();
  check('without its csrf token the form is refused: 403, "Form refused"',
    response.status() === 403 && (await heading(page)) === 'Form refused' &&
    refusedText.includes('This form did not come from this console or has expired. Reload the page and try again.'),
    `${response.status()}, "${await heading(page)}"`);
  await snapshot(page, 'form-refused', { signedIn: false });
  // The same POST sent straight from the signed-in session's cookies, without the form.
  const forgedForm = { version: unquote(before.etag), name: 'Forged name', email };
  for (const [what, form] of [['no csrf field', forgedForm],
    ['a wrong csrf token', { ...forgedForm, csrf: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }]]) {
    const forged = await first.request.post(`${consoleUrl}/customers/${customerId}/edit`, { form, maxRedirects: 0 });
    check(`a POST with the session's cookie and ${what} is refused: 403 "Form refused"`,
      forged.status() === 403 && (await forged.text()).includes('Form refused'), String(forged.status()));
  }
  const afterForged = await api(customers, 'GET', `/customers/${customerId}`);
  check('the refused forms changed nothing', afterForged.etag === before.etag && afterForged.json.name === before.json.name,
    `${afterForged.etag} "${afterForged.json.name}"`);

  // (i) Status, Events, Webhook endpoints.
  step = '(i) other pages';
  await nav(page, 'Status').click();
  await page.waitForURL(/\/status$/);
  const statusText = await page.locator('main').innerText();
  check('Status: both services ready, and the cache hit ratio',
    (await heading(page)) === 'Status' && statusText.includes('customer-service') && statusText.includes('invoice-service') &&
    (statusText.match(/\bready\b/g) ?? []).length >= 2 && !/not ready|unreachable/.test(statusText) &&
    statusText.includes('Cache hit ratio') && (/\d\s?%/.test(statusText) || statusText.includes('no reads yet')),
    statusText);
  await snapshot(page, 'status');

  await nav(page, 'Events').click();
  await page.waitForURL(/\/events(\?.*)?$/);
  const eventsText = await page.locator('main').innerText();
  check('Events: a table of events', (await heading(page)) === 'Events' && (await page.locator('tbody tr').count()) > 0 &&
    /(customer|invoice)\.(created|updated|finalized|paid)/.test(eventsText), eventsText.slice(0, 500));
  await snapshot(page, 'events');

  await nav(page, 'Webhooks').click();
  await page.waitForURL(/\/webhooks(\?.*)?$/);
  check('Webhook endpoints: heading and the "New endpoint" form',
    (await heading(page)) === 'Webhook endpoints' && (await field(page, 'Service').count()) === 1 &&
    (await field(page, 'URL').count()) === 1 && (await field(page, 'Event types').count()) === 1 &&
    (await button(page, 'Create endpoint').count()) === 1, await heading(page));
  await snapshot(page, 'webhooks');
  const service = field(page, 'Service');
  const invoiceOption = await service.locator('option').evaluateAll((options) =>
    options.find((o) => /invoice/i.test(o.textContent) || /invoice/i.test(o.value))?.value);
  if (invoiceOption !== undefined) await service.selectOption(invoiceOption);
  const hookUrl = `http://127.0.0.1:9/console-check-${run}`;
  await field(page, 'URL').fill(hookUrl);
  await field(page, 'Event types').fill('invoice.paid');
  response = await submit(page, button(page, 'Create endpoint'));
  const hooksText = await page.locator('main').innerText();
  check('"Create endpoint" shows the whsec_ secret once, with "Copy it now: it is not shown again."',
    /whsec_[A-Za-z0-9+/=_-]{20,}/.test(hooksText) && hooksText.includes('Copy it now: it is not shown again.') &&
    hooksText.includes(hookUrl), `${response.status()}; ${await alertText(page)}; ${hooksText.slice(0, 400)}`);
  await snapshot(page, 'webhook-created');
  const endpoints = (await api(invoices, 'GET', '/webhook_endpoints?limit=100')).json.data ?? [];
  const endpoint = endpoints.find((e) => e.url === hookUrl);
  check('invoice-service has the endpoint, subscribed to invoice.paid',
    endpoint?.enabled_events?.length === 1 && endpoint.enabled_events[0] === 'invoice.paid', JSON.stringify(endpoint));
  await page.goto(`${consoleUrl}/webhooks`);
  check('the secret is not shown again', !/whsec_/.test(await page.content()));
  const hookRow = page.locator('tr, li, article, section').filter({ hasText: hookUrl }).last();
  if (await hookRow.count()) {
    response = await submit(page, hookRow.getByRole('button', { name: 'Delete', exact: true }));
    const left = ((await api(invoices, 'GET', '/webhook_endpoints?limit=100')).json.data ?? []).filter((e) => e.url === hookUrl);
    check('"Delete" removes the endpoint', response.status() < 400 && left.length === 0, `${response.status()}, ${left.length} left`);
  } else {
    check('the new endpoint is listed with a "Delete" button', false, 'no element holding its URL');
  }

  // (m) A phone: the customers list and an invoice page, no sideways scrolling.
  step = '(m) phone';
  const phoneContext = await newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true,
    hasTouch: true, storageState: await first.storageState() });
  const phone = await phoneContext.newPage();
  for (const [path, name2] of [['/customers', 'phone-customers'], [`/invoices/${invoiceId}`, 'phone-invoice']]) {
    await phone.goto(consoleUrl + path);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(`${path} fits a 390 px wide phone without sideways scrolling`, overflow <= 0, `${overflow}px wider`);
    // Nor does any text run out of its box (a long email past its card's edge, say).
    // (Visually hidden text, kept for screen readers, is clipped to nothing on purpose.)
    const spilling = await phone.evaluate(() => [...document.querySelectorAll('main *')]
      .filter((el) => el.clientWidth > 0 && getComputedStyle(el).overflowX === 'visible' && el.scrollWidth > el.clientWidth + 1)
      .filter((el) => {
        for (let e = el; e && e !== document.body; e = e.parentElement) {
          const style = getComputedStyle(e);
          const rect = e.getBoundingClientRect();
          if (style.clip !== 'auto' || style.clipPath !== 'none' || rect.width <= 1 || rect.height <= 1) return false;
        }
        return true;
      })
      .map((el) => `<${el.tagName.toLowerCase()}${el.className ? ` class="${el.className}"` : ''}> ` +
        `${el.scrollWidth - el.clientWidth}px: "${el.textContent.trim().slice(0, 40)}"`));
    check(`${path}: on a phone no text runs out of its box`, spilling.length === 0, spilling.slice(0, 5).join('; '));
    await snapshot(phone, name2);
  }

  // (j) Sign out.
  step = '(j) sign out';
  response = await submit(page, button(page, 'Sign out'));
  check('"Sign out": 303 to /sign-in', response.status() === 303 && new URL(page.url()).pathname === '/sign-in',
    `${response.status()}, now at ${page.url()}`);
  await snapshot(page, 'signed-out', { signedIn: false });
  response = await page.goto(`${consoleUrl}/invoices/${invoiceId}`);
  check('after signing out an invoice page redirects to /sign-in', new URL(page.url()).pathname === '/sign-in', page.url());

  // (k) The key in no URL the browser asked for or was redirected to.
  step = '(k) urls';
  const leakedUrls = visitedUrls.filter((u) => leaks(u).length > 0);
  check(`the API key is in none of the ${visitedUrls.length} URLs and redirects the browser saw`, leakedUrls.length === 0,
    leakedUrls.join(' '));
  step = 'done';
} catch (error) {
  exitCode = 1;
  console.log(`FAILED - ${step}: the run stopped: ${String(error?.message ?? error).split('\n').slice(0, 6).join(' / ')}`);
  let i = 0;
  for (const context of contexts) {
    for (const p of context.pages()) {
      i += 1;
      const file = `failure-${i}.png`;
      await p.screenshot({ path: join(output, file), fullPage: true }).catch(() => {});
      const where = p.url();
      const h = await heading(p).catch(() => '?');
      const alerts = await alertText(p).catch(() => '');
      console.log(`  page ${i}: ${where} "${h}"${alerts ? ` alert: ${alerts}` : ''} (screenshot ${file})`);
    }
  }
} finally {
  await browser.close();
}

if (failures > 0) exitCode = 1;
const verdict = exitCode === 0 ? 'passed' : `${failures} checks failed${step === 'done' ? '' : `, the run stopped at ${step}`}`;
console.log(`${verdict}; ${pagesChecked} pages checked with axe-core; screenshots in ${output}`);
process.exit(exitCode);
