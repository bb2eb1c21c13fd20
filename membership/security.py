"""Security headers on every response.

The header values never change while the app runs, so they are built once, when the app
is built, and copied onto each response (Flask-Talisman re-derived them per request, which
cost a sixth of the gift form's time)."""

from __future__ import annotations

from flask import Flask, Response

# Every asset is served by the app itself; no inline script or style anywhere.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "img-src": "'self' data:",
    "script-src": "'self'",
    "style-src": "'self'",
    "form-action": "'self' https://checkout.stripe.com https://billing.stripe.com",
    "frame-ancestors": "'none'",
    "base-uri": "'self'",
    "object-src": "'none'",
}


def security_headers(production: bool) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": "; ".join(
            f"{directive} {value}" for directive, value in CONTENT_SECURITY_POLICY.items()),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if production:
        # TLS ends at the proxy in front of us; HSTS keeps browsers on HTTPS from then on.
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


def register_security_headers(app: Flask) -> None:
    headers = list(security_headers(app.config["MEMBERSHIP_ENV"] == "production").items())
    names = {name for name, _value in headers}

    @app.after_request
    def _add_security_headers(response: Response) -> Response:
        # Every answer's, in one pass: no view sets these, so none is there to replace
        # unless a view did on purpose (then it is replaced, as before).
        if names.isdisjoint(response.headers.keys()):
            response.headers.extend(headers)
        else:
            response.headers.update(headers)
        return response
