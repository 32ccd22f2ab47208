"""The deployment check's connection to a running billing system.

Point it at any deployment with environment variables (or the matching options):

    CUSTOMER_SERVICE_URL  customer-service's base URL (default http://localhost:5000)
    INVOICE_SERVICE_URL   invoice-service's base URL (default http://localhost:5001)
    API_KEY               a key from the services' API_KEYS, when they have keys

Every record the check creates carries a unique name and is removed when the check ends:
customers and draft invoices are deleted; an invoice that was finalized cannot be deleted (an
issued invoice is a record), so it is left paid or void, with metadata
`{"created_by": "deployment-check"}`. Finalizing takes an invoice number; run with
`-m "not lifecycle"` where that must not happen.
"""

import os

import pytest

from deployment import Records, Service


def pytest_addoption(parser):
    group = parser.getgroup("deployment")
    group.addoption("--customer-url", default=os.environ.get("CUSTOMER_SERVICE_URL", "http://localhost:5000"))
    group.addoption("--invoice-url", default=os.environ.get("INVOICE_SERVICE_URL", "http://localhost:5001"))
    group.addoption("--api-key", default=os.environ.get("API_KEY") or None)


def pytest_configure(config):
    config.addinivalue_line("markers", "lifecycle: finalizes invoices, which takes invoice numbers")


@pytest.fixture(scope="session")
def customer_service(pytestconfig):
    return Service(pytestconfig.getoption("customer_url"), pytestconfig.getoption("api_key"))


@pytest.fixture(scope="session")
def invoice_service(pytestconfig):
    return Service(pytestconfig.getoption("invoice_url"), pytestconfig.getoption("api_key"))


@pytest.fixture
def records(customer_service, invoice_service):
    made = Records(customer_service, invoice_service)
    yield made
    made.remove_all()
