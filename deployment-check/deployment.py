"""Talking to a running deployment: its services, the records a test makes, the error shape."""

import uuid

import requests

TIMEOUT_SECONDS = 10
CHECK_METADATA = {"created_by": "deployment-check"}


class Service:
    """One service's base URL and a keep-alive session carrying the API key, if any."""

    def __init__(self, base_url, api_key):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.session = requests.Session()
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    def request(self, method, path, **kwargs):
        kwargs.setdefault("timeout", TIMEOUT_SECONDS)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def put(self, path, **kwargs):
        return self.request("PUT", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.request("PATCH", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def without_key(self, method, path, **kwargs):
        kwargs.setdefault("timeout", TIMEOUT_SECONDS)
        return requests.request(method, self.base_url + path, **kwargs)


def unique_email():
    return f"deployment-check+{uuid.uuid4().hex}@example.com"


class Records:
    """Makes customers and invoices for a test and removes what it made afterwards."""

    def __init__(self, customers, invoices):
        self.customers = customers
        self.invoices = invoices
        self.customer_ids = []
        self.invoice_ids = []

    def customer(self, **fields):
        body = {"name": "Deployment Check", "email": unique_email(), "metadata": CHECK_METADATA} | fields
        response = self.customers.post("/customers", json=body)
        assert response.status_code == 201, response.text
        created = response.json()
        self.customer_ids.append(created["id"])
        return created["customer"]

    def invoice(self, customer_id, **fields):
        body = {
            "customer_id": customer_id,
            "currency": "usd",
            "items": [
                {"description": "Deployment check", "quantity": 3, "unit_amount": 1250},
                {"description": "Support", "quantity": 1, "unit_amount": 999},
            ],
            "tax_rate_bps": 850,
            "metadata": CHECK_METADATA,
        } | fields
        response = self.invoices.post("/invoices", json=body)
        assert response.status_code == 201, response.text
        created = response.json()
        self.invoice_ids.append(created["id"])
        return created["invoice"]

    def remove_all(self):
        for invoice_id in self.invoice_ids:
            found = self.invoices.get(f"/invoices/{invoice_id}")
            if found.status_code != 200:
                continue
            status = found.json()["invoice"]["status"]
            if status == "draft":
                self.invoices.delete(f"/invoices/{invoice_id}")
            elif status in ("open", "uncollectible"):
                self.invoices.post(f"/invoices/{invoice_id}/void")
        for customer_id in self.customer_ids:
            self.customers.delete(f"/customers/{customer_id}")


def assert_error(response, status, code):
    """The contract's error body: a sentence for people and a stable code for programs."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["error"], str) and body["error"]
    return body
