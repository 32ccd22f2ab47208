// Databases, indexes and sample data of the billing system, for mongosh.
//
// docker-compose.yml runs it from the one-shot `mongo-init` service once the
// replica set has a primary:
//   mongosh --quiet "mongodb://mongo:27017/?replicaSet=rs0" --file /scripts/mongo-init.js
// By hand, against any MongoDB (seed files read from $SEED_DIR, default /seed):
//   SEED_DIR=./seed mongosh --quiet mongodb://localhost:27017 mongodb/mongo-init.js
//
// It is idempotent: collections and indexes are created when missing, and the
// sample data is inserted only into an empty collection. The sample files are
// the ones the services themselves load with SEED_SAMPLE_DATA=true
// (customer-service/data/customers.json, invoice-service/data/invoices.json),
// in the API's output shape; they are converted here to the stored shape.
//
// Why not /docker-entrypoint-initdb.d: the mongo image runs those scripts
// against a temporary mongod that keeps `--replSet rs0` (it drops it only when
// MONGO_INITDB_ROOT_USERNAME/PASSWORD are set), and an uninitiated replica set
// member refuses writes. The replica set can only be initiated as mongo:27017
// once mongod listens on that address, i.e. after the init phase.

'use strict';

const fs = require('fs');

const SEED_DIR = (process.env.SEED_DIR || '/seed').replace(/\/+$/, '');
const CUSTOMER_DB = 'billing_db';
const INVOICE_DB = 'invoice_db';

function log(message) {
  print(`[mongo-init] ${message}`);
}

// Wait (up to 60 s) until this connection can write: with a replica set the
// primary may still be being elected.
function waitForWritablePrimary() {
  const deadline = Date.now() + 60 * 1000;
  for (;;) {
    let hello = {};
    try {
      hello = db.hello();
    } catch (e) {
      hello = {};
    }
    if (hello.isWritablePrimary) return;
    if (Date.now() > deadline) throw new Error('no writable primary after 60 s');
    sleep(500);
  }
}

function ensureCollection(database, name) {
  if (!database.getCollectionNames().includes(name)) {
    database.createCollection(name);
    log(`created ${database.getName()}.${name}`);
  }
  return database.getCollection(name);
}

function readSeed(file) {
  const path = `${SEED_DIR}/${file}`;
  if (!fs.existsSync(path)) {
    log(`${path} not found: no sample data loaded from it`);
    return null;
  }
  const parsed = JSON.parse(fs.readFileSync(path, 'utf8'));
  if (!Array.isArray(parsed)) throw new Error(`${path}: expected a JSON array`);
  return parsed;
}

function date(value) {
  if (value === null || value === undefined) return null;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new Error(`not an RFC 3339 time: ${value}`);
  return d;
}

// Money and counts are stored as 64-bit integers (never doubles, never Decimal128).
function long(value, what) {
  if (!Number.isSafeInteger(value)) throw new Error(`${what}: expected an integer, got ${value}`);
  return NumberLong(String(value));
}

function customerDocument(c) {
  return {
    _id: ObjectId(c.id),
    name: c.name,
    name_lower: c.name.toLowerCase(),
    email: c.email,
    email_normalized: c.email.trim().toLowerCase(),
    phone: c.phone === undefined ? null : c.phone,
    address: c.address === undefined ? null : c.address,
    metadata: c.metadata || {},
    // customer-service updates a document only while its `version` is unchanged.
    version: NumberLong('1'),
    created_at: date(c.created_at),
    updated_at: date(c.updated_at),
  };
}

function invoiceDocument(inv) {
  const doc = { _id: ObjectId(inv.id) };
  // A draft has no number: the field is left out (not null), so the partial
  // unique index on `number` ignores it.
  if (inv.number !== null && inv.number !== undefined) {
    doc.number = inv.number;
    // The number as an integer: invoice-service numbers the next invoice max(number_seq) + 1.
    doc.number_seq = NumberLong(String(parseInt(/^INV-(\d+)$/.exec(inv.number)[1], 10)));
  }
  Object.assign(doc, {
    customer_id: inv.customer_id,
    customer_name: inv.customer_name,
    customer_email: inv.customer_email,
    currency: inv.currency,
    items: inv.items.map((item, i) => ({
      description: item.description,
      quantity: long(item.quantity, `${inv.id} items[${i}].quantity`),
      unit_amount: long(item.unit_amount, `${inv.id} items[${i}].unit_amount`),
      amount: long(item.amount, `${inv.id} items[${i}].amount`),
    })),
    subtotal: long(inv.subtotal, `${inv.id} subtotal`),
    tax_rate_bps: long(inv.tax_rate_bps, `${inv.id} tax_rate_bps`),
    tax: long(inv.tax, `${inv.id} tax`),
    total: long(inv.total, `${inv.id} total`),
    amount_paid: long(inv.amount_paid, `${inv.id} amount_paid`),
    amount_due: long(inv.amount_due, `${inv.id} amount_due`),
    status: inv.status,
    due_date: inv.due_date === undefined ? null : inv.due_date,
    metadata: inv.metadata || {},
    version: NumberLong('1'),
    created_at: date(inv.created_at),
    updated_at: date(inv.updated_at),
    finalized_at: date(inv.finalized_at),
    paid_at: date(inv.paid_at),
    voided_at: date(inv.voided_at),
  });
  return doc;
}

// The sample records of SEED_DIR/`file`, converted by `toDocument`, inserted into the
// collection `name` of `database` when it is empty.
function loadSample(database, name, file, toDocument) {
  const sample = readSeed(file);
  if (sample === null) return;
  const collection = database.getCollection(name);
  const where = `${database.getName()}.${name}`;
  if (collection.countDocuments({}) === 0) {
    const result = collection.insertMany(sample.map(toDocument));
    log(`${where}: inserted ${Object.keys(result.insertedIds).length} sample ${name}`);
  } else {
    log(`${where} is not empty: sample ${name} not loaded`);
  }
}

waitForWritablePrimary();

// ---- billing_db (customer-service) ------------------------------------------
const billing = db.getSiblingDB(CUSTOMER_DB);
const customers = ensureCollection(billing, 'customers');
customers.createIndex({ email_normalized: 1 }, { name: 'email_normalized_unique', unique: true });
customers.createIndex({ name_lower: 1 }, { name: 'name_lower' });

loadSample(billing, 'customers', 'customers.json', customerDocument);

// ---- invoice_db (invoice-service) -------------------------------------------
const invoiceDb = db.getSiblingDB(INVOICE_DB);
const invoices = ensureCollection(invoiceDb, 'invoices');
// The same indexes invoice-service creates at startup (same names and keys).
invoices.createIndex({ customer_id: 1 }, { name: 'customer_id' });
invoices.createIndex({ customer_id: 'hashed' }, { name: 'customer_id_hashed' });
invoices.createIndex({ status: 1 }, { name: 'status' });
invoices.createIndex({ number_seq: 1 }, { name: 'number_seq' });
invoices.createIndex(
  { number: 1 },
  { name: 'number_unique', unique: true, partialFilterExpression: { number: { $type: 'string' } } },
);

loadSample(invoiceDb, 'invoices', 'invoices.json', invoiceDocument);

log('done');
