"""A fake of Stripe's HTTP API on a local port: the real `stripe` library talks to it over
real HTTP (STRIPE_API_BASE), so nothing of ours is patched.

It records every request (method, path, form fields, headers) and answers the few
endpoints the app uses with Stripe-shaped objects."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeStripe:
    requests: list[Recorded] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)          # newest first, as Stripe lists
    invoice_payments: dict[str, str | list] = field(default_factory=dict)  # invoice → pi(s)
    customers: dict[str, str] = field(default_factory=dict)   # customer id → e-mail
    objects: dict[str, dict] = field(default_factory=dict)    # id → Stripe's current object
    # Called with the path of each request before it is answered (to look at our database
    # while the app waits for Stripe).
    while_answering: Callable[[str], None] | None = None
    latency: float = 0.0  # seconds each answer takes (benchmarks: Stripe is not local)
    fail_next: int = 0  # answer this many requests with a 500 first (network retries)
    url: str = ""

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    # The WSGI app --------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        params = dict(parse_qsl(request.get_data(as_text=True), keep_blank_values=True))
        params.update(dict(parse_qsl(request.query_string.decode(), keep_blank_values=True)))
        self.requests.append(Recorded(request.method, request.path, params,
                                      dict(request.headers)))
        if self.while_answering:
            self.while_answering(request.path)
        if self.latency:
            time.sleep(self.latency)
        if self.fail_next:
            self.fail_next -= 1
            return self._json({"error": {"type": "api_error", "message": "try again"}},
                              500)(environ, start_response)
        return self._route(request, params)(environ, start_response)

    def _json(self, body: dict, status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, mimetype="application/json")

    def _route(self, request: Request, params: dict[str, str]) -> Response:
        path, method = request.path, request.method
        if method == "POST" and path == "/v1/checkout/sessions":
            number = len(self.calls("POST", path))
            return self._json({"id": f"cs_test_fake_{number}", "object": "checkout.session",
                               "url": f"https://checkout.stripe.test/pay/cs_test_fake_{number}",
                               "mode": params.get("mode"), "metadata": {}})
        if method == "POST" and path == "/v1/billing_portal/sessions":
            return self._json({"id": "bps_fake", "object": "billing_portal.session",
                               "url": "https://billing.stripe.test/session/bps_fake"})
        if path.startswith(("/v1/subscriptions/", "/v1/charges/", "/v1/payment_intents/")):
            return self._object(path.rsplit("/", 1)[1], method, path)
        if method == "GET" and path == "/v1/invoice_payments":
            return self._json(self._invoice_payments(params))
        if method == "GET" and path.startswith("/v1/customers/"):
            customer_id = path.rsplit("/", 1)[1]
            return self._json({"id": customer_id, "object": "customer",
                               "email": self.customers.get(customer_id)})
        if method == "GET" and path == "/v1/events":
            return self._json(self._event_page(params))
        return self._json({"error": {"type": "invalid_request_error",
                                     "message": f"no fake for {method} {path}"}}, 404)

    def _object(self, object_id: str, method: str, path: str) -> Response:
        """Stripe's current subscriptions and charges: those a test put in `objects`; a
        read of any other is Stripe's 404, a change of another subscription answers with
        a plain one (the gift's own fields come from its events)."""
        known = self.objects.get(object_id)
        if known is not None:
            if method == "DELETE":
                known["status"] = "canceled"
            return self._json(known)
        if method == "GET" or path.startswith(("/v1/charges/", "/v1/payment_intents/")):
            return self._json({"error": {"type": "invalid_request_error",
                                         "code": "resource_missing",
                                         "message": f"No such object: '{object_id}'"}}, 404)
        return self._json(self.subscription(object_id,
                                            "canceled" if method == "DELETE" else "active"))

    def subscription(self, subscription_id: str, status: str = "active") -> dict:
        return {"id": subscription_id, "object": "subscription", "status": status,
                "items": {"object": "list", "data": [{
                    "id": "si_fake", "object": "subscription_item", "quantity": 1,
                    "price": {"id": "price_fake", "object": "price", "product": "prod_fake",
                              "unit_amount": 1800, "currency": "usd",
                              "recurring": {"interval": "month"}}}]}}

    def _invoice_payments(self, params: dict[str, str]) -> dict:
        # An invoice's payments: one paid PaymentIntent id, or [(id, status), …] in the
        # order they were attempted. Stripe filters by `status` when asked.
        rows = [(inv, pi, status) for inv, payments in self.invoice_payments.items()
                for pi, status in ([(payments, "paid")] if isinstance(payments, str)
                                   else payments)]
        if "invoice" in params:
            rows = [row for row in rows if row[0] == params["invoice"]]
        else:
            rows = [row for row in rows if row[1] == params.get("payment[payment_intent]")]
        if "status" in params:
            rows = [row for row in rows if row[2] == params["status"]]
        data = [{"id": f"inpay_{inv}_{pi}", "object": "invoice_payment", "invoice": inv,
                 "status": status, "payment": {"type": "payment_intent", "payment_intent": pi}}
                for inv, pi, status in rows]
        return {"object": "list", "data": data, "has_more": False, "url": "/v1/invoice_payments"}

    def _event_page(self, params: dict[str, str]) -> dict:
        since = int(params.get("created[gte]", "0"))
        events = [e for e in self.events if e["created"] >= since]
        if "starting_after" in params:
            ids = [e["id"] for e in events]
            events = events[ids.index(params["starting_after"]) + 1:]
        limit = int(params.get("limit", "10"))
        return {"object": "list", "data": events[:limit], "has_more": len(events) > limit,
                "url": "/v1/events"}


class FakeStripeServer:
    def __init__(self):
        self.fake = FakeStripe()
        self.server = make_server("127.0.0.1", 0, self.fake, threaded=True)
        self.fake.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> FakeStripe:
        self.thread.start()
        return self.fake

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)
