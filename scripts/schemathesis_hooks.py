"""schemathesis hooks for the `schemathesis` stage of scripts/test (schemathesis.toml loads them).

They change only values the generator cannot know, never what a check sees as valid or not:

- Idempotency-Key: generated keys come from a small space (hypothesis likes "0"), so
  unrelated requests would share keys. Per the contract a reused key replays the first answer
  (whose resource a later step may have deleted) or is refused with
  `422 idempotency_key_reused`: right for the service, wrong for checks that take every
  request as a new one. So a request with a valid key gets a fresh valid key; it still goes
  through the whole idempotency path (record, answer, store). Invalid keys (negative cases)
  are sent as generated, so their rejection is still checked. Replays are tested in Rust.

- customer_id of POST /invoices: a generated id names no customer, so every create would be
  `422 customer_not_found` and nothing behind it (totals, storage, the lifecycle reached
  through links) would be tested. A valid generated id is replaced by one of the customers
  the stage created in customer-service (SCHEMATHESIS_CUSTOMER_IDS, comma-separated);
  malformed ids (negative cases) are sent as generated.

- url of POST /webhook_endpoints and PATCH /webhook_endpoints/{id}: a generated URL names a
  host that does not resolve here (or one outside the machine, where no delivery may go), so
  every create would be `422 validation_failed` and nothing behind it (the endpoint's routes,
  its deliveries, its attempts) would be tested. A valid generated url (the document's
  pattern and length) is replaced by SCHEMATHESIS_WEBHOOK_URL, a loopback URL the stage's
  services accept (WEBHOOK_ALLOW_LOOPBACK=true); malformed ones (negative cases) are sent as
  generated.
"""

import os
import random
import re
import uuid

import schemathesis

IDEMPOTENCY_KEY = "idempotency-key"
# What the service accepts and the document states: 1 to 255 visible ASCII characters.
VALID_KEY = re.compile(r"[\x21-\x7E]{1,255}")
OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")
CUSTOMER_IDS = [i for i in os.environ.get("SCHEMATHESIS_CUSTOMER_IDS", "").split(",") if i]
WEBHOOK_URL = os.environ.get("SCHEMATHESIS_WEBHOOK_URL")
WEBHOOK_PATHS = ("/webhook_endpoints", "/webhook_endpoints/{id}")
# The document's url rule (pattern and maxLength), read as the schema loads.
URL_RULE = {}


@schemathesis.hook
def before_load_schema(context, raw_schema):
    schemas = raw_schema.get("components", {}).get("schemas", {})
    url = schemas.get("CreateWebhookEndpoint", {}).get("properties", {}).get("url", {})
    if "pattern" in url:
        URL_RULE["pattern"] = re.compile(ecma(url["pattern"]))
        URL_RULE["max"] = url.get("maxLength")


# White space as ECMA-262 (the document's regex dialect) counts it. Python's `\s` also takes
# the separators U+001C to U+001F and U+0085, so a URL the generator made as valid would be
# judged invalid here and sent to the service unreplaced.
ECMA_NOT_SPACE = "[^\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]"


def ecma(pattern):
    """The document's pattern with its `[^\\s]` read as ECMA-262 reads it."""
    return pattern.replace("[^\\s]", ECMA_NOT_SPACE)


def valid_url(value):
    pattern = URL_RULE.get("pattern")
    limit = URL_RULE.get("max")
    return (
        isinstance(value, str)
        and pattern is not None
        and (limit is None or len(value) <= limit)
        and pattern.search(value) is not None
    )


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers
    if headers:
        for name in list(headers):
            value = headers[name]
            if name.lower() == IDEMPOTENCY_KEY and isinstance(value, str) and VALID_KEY.fullmatch(value):
                headers[name] = f"st-{uuid.uuid4()}"
    body = case.body
    if (
        CUSTOMER_IDS
        and case.method.upper() == "POST"
        and case.path == "/invoices"
        and isinstance(body, dict)
        and isinstance(body.get("customer_id"), str)
        and OBJECT_ID.fullmatch(body["customer_id"])
    ):
        body["customer_id"] = random.choice(CUSTOMER_IDS)
    if (
        WEBHOOK_URL
        and case.method.upper() in ("POST", "PATCH")
        and case.path in WEBHOOK_PATHS
        and isinstance(body, dict)
        and valid_url(body.get("url"))
    ):
        body["url"] = WEBHOOK_URL
