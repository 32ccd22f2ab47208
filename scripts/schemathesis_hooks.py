"""schemathesis hooks for the `schemathesis` stage of scripts/test (loaded by schemathesis.toml).

Idempotency-Key: a generated key is drawn from a small space (hypothesis likes "0"), so
unrelated requests would share keys. Per the contract a reused key either replays the first
answer (whose resource a later step may have deleted) or is refused with
`422 idempotency_key_reused`: right for the service, wrong for checks that take every request
as a new one. So each request that carries a valid key gets a fresh one; it still goes
through the whole idempotency path (record, answer, store). Invalid keys (negative cases) are
left as generated, so their rejection is still checked. Replays themselves are tested by the
Rust tests.
"""

import re
import uuid

import schemathesis

HEADER = "idempotency-key"
# What the service accepts: 1 to 255 visible ASCII characters (the document says the same).
VALID_KEY = re.compile(r"[\x21-\x7E]{1,255}")


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers
    if not headers:
        return
    for name in list(headers):
        value = headers[name]
        if name.lower() == HEADER and isinstance(value, str) and VALID_KEY.fullmatch(value):
            headers[name] = f"st-{uuid.uuid4()}"
