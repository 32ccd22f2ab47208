"""A running billing system answers as docs/API.md says: the deployment check.

Run it against any deployment (see conftest.py for the URLs and the key):
    pytest deployment-check
"""

import re
import uuid

import pytest

from deployment import assert_error

OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
MISSING_ID = "0" * 24


# ------------------------------------------------------------------ operational routes


@pytest.mark.parametrize("service", ["customer_service", "invoice_service"])
def test_health_answers_ok(request, service):
    response = request.getfixturevalue(service).without_key("GET", "/health")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("service", ["customer_service", "invoice_service"])
def test_ready_reports_every_dependency_up(request, service):
    response = request.getfixturevalue(service).without_key("GET", "/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"], body
    assert set(body["checks"].values()) == {"up"}, f"a dependency is down: {body['checks']}"


@pytest.mark.parametrize("service", ["customer_service", "invoice_service"])
def test_request_id_is_echoed_on_answers_and_errors(request, service):
    api = request.getfixturevalue(service)
    request_id = f"deployment-check-{uuid.uuid4()}"
    for path in ("/health", f"/{'customers' if service == 'customer_service' else 'invoices'}/not-an-id"):
        response = api.get(path, headers={"X-Request-Id": request_id})
        assert response.headers.get("X-Request-Id") == request_id, path
    generated = api.get("/health").headers.get("X-Request-Id")
    assert generated, "a request without X-Request-Id gets one"


@pytest.mark.parametrize("service", ["customer_service", "invoice_service"])
def test_unknown_route_is_not_found(request, service):
    assert_error(request.getfixturevalue(service).get("/no-such-route"), 404, "not_found")


@pytest.mark.parametrize(("service", "path"), [("customer_service", "/customers"), ("invoice_service", "/invoices")])
def test_business_routes_need_the_key_when_keys_are_configured(request, service, path):
    api = request.getfixturevalue(service)
    if not api.api_key:
        pytest.skip("no API_KEY given: the deployment is expected to run open")
    response = api.without_key("GET", path)
    assert_error(response, 401, "unauthorized")
    assert response.headers.get("WWW-Authenticate", "").lower().startswith("bearer")
    wrong = api.without_key("GET", path, headers={"Authorization": "Bearer " + "x" * 32})
    assert_error(wrong, 401, "unauthorized")


# ------------------------------------------------------------------ customers


def test_customer_create_read_update_delete(customer_service, records):
    customer = records.customer(name="Ada Lovelace", phone="+44 20 7946 0000")
    assert OBJECT_ID.match(customer["id"])
    assert customer["name"] == "Ada Lovelace"
    assert customer["phone"] == "+44 20 7946 0000"
    path = f"/customers/{customer['id']}"

    read = customer_service.get(path)
    assert read.status_code == 200, read.text
    assert read.json() == customer

    replaced = customer_service.put(path, json={"name": "Ada King"})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["message"] == "Customer updated"
    assert replaced.json()["customer"]["name"] == "Ada King"
    assert replaced.json()["customer"]["email"] == customer["email"]

    patched = customer_service.patch(path, json={"phone": None, "address": {"city": "London", "country": "gb"}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["customer"]["phone"] is None
    assert patched.json()["customer"]["address"]["country"] == "GB"
    assert customer_service.get(path).json() == patched.json()["customer"]

    deleted = customer_service.delete(path)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"message": "Customer deleted"}
    assert_error(customer_service.get(path), 404, "not_found")


def test_customer_create_answers_message_id_and_location(customer_service, records):
    body = {"name": "Grace Hopper", "email": f"grace+{uuid.uuid4().hex}@example.com"}
    response = customer_service.post("/customers", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    records.customer_ids.append(created["id"])
    assert created["message"] == "Customer added"
    assert created["customer"]["id"] == created["id"]
    assert response.headers["Location"] == f"/customers/{created['id']}"


def test_customer_list_finds_one_by_email(customer_service, records):
    customer = records.customer()
    response = customer_service.get("/customers", params={"email": customer["email"].upper()})
    assert response.status_code == 200, response.text
    page = response.json()
    assert [c["id"] for c in page["data"]] == [customer["id"]]
    assert page["has_more"] is False


def test_customer_email_is_unique(customer_service, records):
    customer = records.customer()
    again = customer_service.post("/customers", json={"name": "Twin", "email": customer["email"].upper()})
    assert_error(again, 409, "email_taken")


def test_customer_errors_have_the_contract_shape(customer_service):
    assert_error(customer_service.get("/customers/not-an-id"), 400, "invalid_id")
    assert_error(customer_service.get(f"/customers/{MISSING_ID}"), 404, "not_found")

    invalid = customer_service.post("/customers", json={"name": "", "email": "not-an-email"})
    body = assert_error(invalid, 422, "validation_failed")
    assert {d["field"] for d in body["details"]} == {"name", "email"}

    operator = customer_service.post("/customers", json={"name": "X", "email": "x@example.com", "$where": "1"})
    assert_error(operator, 422, "validation_failed")
    assert_error(
        customer_service.post("/customers", data="{", headers={"Content-Type": "application/json"}), 400, "invalid_json"
    )
    assert_error(
        customer_service.post("/customers", data="name=x", headers={"Content-Type": "text/plain"}),
        415,
        "unsupported_media_type",
    )


# ------------------------------------------------------------------ invoices


def test_invoice_read_comes_from_the_database_then_the_cache(invoice_service, records):
    customer = records.customer()
    invoice = records.invoice(customer["id"])
    path = f"/invoices/{invoice['id']}"

    first = invoice_service.get(path)
    assert first.status_code == 200, first.text
    assert first.json()["source"] == "database"
    assert first.headers["X-Cache"] == "MISS"
    assert first.json()["invoice"] == invoice

    second = invoice_service.get(path)
    assert second.status_code == 200, second.text
    assert second.json()["source"] == "cache"
    assert second.headers["X-Cache"] == "HIT"
    assert second.json()["invoice"] == invoice


def test_invoice_create_copies_the_customer_and_computes_totals(invoice_service, records):
    customer = records.customer(name="Totals Check")
    response = invoice_service.post(
        "/invoices",
        json={
            "customer_id": customer["id"],
            "currency": "eur",
            "items": [{"description": "Hours", "quantity": 3, "unit_amount": 1250}],
            "tax_rate_bps": 850,
            "due_date": "2030-01-31",
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    records.invoice_ids.append(created["id"])
    assert created["message"] == "Invoice created"
    assert response.headers["Location"] == f"/invoices/{created['id']}"
    invoice = created["invoice"]
    assert invoice["status"] == "draft"
    assert invoice["number"] is None
    assert invoice["currency"] == "EUR"
    assert (invoice["customer_name"], invoice["customer_email"]) == ("Totals Check", customer["email"])
    assert invoice["items"][0]["amount"] == 3750
    # 3750 * 8.5 % = 318.75, rounded half up.
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == (3750, 319, 4069)
    assert (invoice["amount_paid"], invoice["amount_due"]) == (0, 4069)


def test_invoice_for_a_missing_customer_is_refused(invoice_service):
    response = invoice_service.post(
        "/invoices",
        json={"customer_id": MISSING_ID, "currency": "USD", "items": [{"description": "x", "quantity": 1, "unit_amount": 1}]},
    )
    body = assert_error(response, 422, "customer_not_found")
    assert [d["field"] for d in body["details"]] == ["customer_id"]


def test_invoice_draft_is_edited_then_deleted(invoice_service, records):
    invoice = records.invoice(records.customer()["id"])
    path = f"/invoices/{invoice['id']}"
    invoice_service.get(path)  # cached, so the delete below must reach the cache too

    edited = invoice_service.patch(path, json={"items": [{"description": "One", "quantity": 2, "unit_amount": 500}], "tax_rate_bps": None})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["invoice"]["subtotal"], edited.json()["invoice"]["total"]) == (1000, 1000)
    assert invoice_service.get(path).json()["invoice"] == edited.json()["invoice"]

    deleted = invoice_service.delete(path)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"message": "Invoice deleted"}
    assert_error(invoice_service.get(path), 404, "not_found")


def test_invoice_list_filters_by_customer(invoice_service, records):
    customer = records.customer()
    made = {records.invoice(customer["id"])["id"] for _ in range(2)}
    response = invoice_service.get("/invoices", params={"customer_id": customer["id"], "status": "draft"})
    assert response.status_code == 200, response.text
    assert {i["id"] for i in response.json()["data"]} == made
    assert_error(invoice_service.get("/invoices", params={"status": "unknown"}), 422, "validation_failed")


def test_invoice_errors_have_the_contract_shape(invoice_service):
    assert_error(invoice_service.get("/invoices/not-an-id"), 400, "invalid_id")
    assert_error(invoice_service.get(f"/invoices/{MISSING_ID}"), 404, "not_found")
    assert_error(invoice_service.post(f"/invoices/{MISSING_ID}/pay"), 404, "not_found")
    invalid = invoice_service.post("/invoices", json={"customer_id": "x", "currency": "XXX1", "items": []})
    body = assert_error(invalid, 422, "validation_failed")
    assert {"customer_id", "currency", "items"} <= {d["field"] for d in body["details"]}


@pytest.mark.lifecycle
def test_invoice_lifecycle_finalize_then_pay(invoice_service, records):
    invoice = records.invoice(records.customer()["id"])
    path = f"/invoices/{invoice['id']}"

    finalized = invoice_service.post(f"{path}/finalize")
    assert finalized.status_code == 200, finalized.text
    opened = finalized.json()["invoice"]
    assert opened["status"] == "open"
    assert re.match(r"^INV-\d{6,}$", opened["number"]), opened["number"]
    assert opened["finalized_at"]
    assert invoice_service.get(path).json()["invoice"] == opened

    assert_error(invoice_service.patch(path, json={"tax_rate_bps": 0}), 409, "invalid_transition")
    assert_error(invoice_service.delete(path), 409, "invalid_transition")

    paid = invoice_service.post(f"{path}/pay")
    assert paid.status_code == 200, paid.text
    settled = paid.json()["invoice"]
    assert settled["status"] == "paid"
    assert (settled["amount_paid"], settled["amount_due"]) == (invoice["total"], 0)
    assert settled["paid_at"]
    assert invoice_service.get(path).json()["invoice"] == settled

    again = assert_error(invoice_service.post(f"{path}/pay"), 409, "invalid_transition")
    assert "paid" in again["error"]


@pytest.mark.lifecycle
def test_invoice_lifecycle_uncollectible_then_void(invoice_service, records):
    invoice = records.invoice(records.customer()["id"])
    path = f"/invoices/{invoice['id']}"
    assert_error(invoice_service.post(f"{path}/void"), 409, "invalid_transition")
    assert invoice_service.post(f"{path}/finalize").status_code == 200

    uncollectible = invoice_service.post(f"{path}/mark_uncollectible")
    assert uncollectible.status_code == 200, uncollectible.text
    assert uncollectible.json()["invoice"]["status"] == "uncollectible"

    voided = invoice_service.post(f"{path}/void")
    assert voided.status_code == 200, voided.text
    assert voided.json()["invoice"]["status"] == "void"
    assert voided.json()["invoice"]["amount_due"] == 0
    assert voided.json()["invoice"]["voided_at"]
    assert invoice_service.get(path).json()["invoice"]["status"] == "void"
