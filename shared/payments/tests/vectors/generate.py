#!/usr/bin/env python3
"""Signature vectors for the Stripe and Mercado Pago adapters, produced by the providers' own libraries.

How to run (not part of `cargo test`; the Rust tests only read the committed JSON):

    python3 -m venv /tmp/payvec
    /tmp/payvec/bin/pip install stripe mercadopago
    /tmp/payvec/bin/python shared/payments/tests/vectors/generate.py

Produced with stripe 16.1.0 and mercadopago 3.6.0 (Python 3.11). The script refuses to write anything
unless the official verifiers accept every vector and reject a forged copy of it.

- stripe.json: `Stripe-Signature` headers made by stripe-python's `WebhookSignature.generate_signature_header`
  (which calls `WebhookSignature._compute_signature` over "{t}.{payload}"), cross-checked against
  `_compute_signature` directly and confirmed with `stripe.Webhook.construct_event`. One case carries two
  `v1` entries (secret rotation), each computed with `_compute_signature`.
- mercadopago.json: `x-signature` headers over the manifest `id:{data.id};request-id:{x-request-id};ts:{ts};`
  (pairs omitted when missing, `data.id` kept as received), HMAC-SHA256 hex, confirmed with the SDK's
  `mercadopago.webhook.WebhookSignatureValidator.validate`. The `payment_response` of each case is what
  `GET /v1/payments/{id}` answers; it is written as text so that amounts such as 200.50 keep their digits.

Secrets, ids and amounts are made up; nothing here is a live credential.
"""

import hashlib
import hmac
import json
import os
import sys
from importlib.metadata import version

import stripe
from mercadopago.webhook import InvalidWebhookSignatureError, WebhookSignatureValidator

HERE = os.path.dirname(os.path.abspath(__file__))

STRIPE_SECRET = "whsec_mostrador_vectors_5f2b7c9e1a4d4e0f8a6b"
STRIPE_OLD_SECRET = "whsec_mostrador_vectors_rotated_0000000000"
STRIPE_T = 1767292200  # 2026-01-01T18:30:00Z

MP_SECRET = "mostrador-vectors-mp-secret-3c1e9a7f"
MP_TS = 1767292200

ORDER = "ord_01JQ7ZK3M8"


def stripe_event(event_id, kind, obj):
    # Stripe delivers pretty-printed JSON; the signature covers these exact bytes.
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2025-03-31.basil",
            "created": STRIPE_T - 2,
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": kind,
        },
        indent=2,
        ensure_ascii=False,
    ) + "\n"


def session(cs_id, amount, payment_status, types, pi, status="complete", reference=ORDER, metadata=None):
    return {
        "id": cs_id,
        "object": "checkout.session",
        "amount_subtotal": amount,
        "amount_total": amount,
        "client_reference_id": reference,
        "currency": "mxn",
        "customer": None,
        "expires_at": STRIPE_T + 3600,
        "metadata": metadata if metadata is not None else {"order_id": ORDER},
        "mode": "payment",
        "payment_intent": pi,
        "payment_method_types": types,
        "payment_status": payment_status,
        "status": status,
        "url": None,
    }


def stripe_cases():
    paid_payload = stripe_event(
        "evt_1QmPaidCard0001",
        "checkout.session.completed",
        session(
            "cs_test_a1PaidCard",
            20050,
            "paid",
            ["card"],
            "pi_3QmPaidCard0001",
            metadata={"order_id": ORDER, "merchant": "Farmacia San Juan — Coyoacán"},
        ),
    )
    cases = [
        ("checkout_completed_paid_card", paid_payload,
         {"kind": "event", "event_id": "evt_1QmPaidCard0001", "state": "paid", "order_id": ORDER,
          "amount": 20050, "currency": "MXN", "method": "card", "payment_ref": "pi_3QmPaidCard0001"}),
        ("checkout_completed_unpaid_oxxo_ten_centavos",
         stripe_event("evt_1QmOxxoPending01", "checkout.session.completed",
                      session("cs_test_a1Oxxo", 10, "unpaid", ["oxxo"], "pi_3QmOxxo00000001")),
         {"kind": "event", "event_id": "evt_1QmOxxoPending01", "state": "pending", "order_id": ORDER,
          "amount": 10, "currency": "MXN", "method": "cash", "payment_ref": "pi_3QmOxxo00000001"}),
        ("async_payment_succeeded_spei_reference_in_metadata",
         stripe_event("evt_1QmSpeiPaid0001", "checkout.session.async_payment_succeeded",
                      session("cs_test_a1Spei", 20050, "paid", ["customer_balance"], "pi_3QmSpei00000001",
                              reference=None)),
         {"kind": "event", "event_id": "evt_1QmSpeiPaid0001", "state": "paid", "order_id": ORDER,
          "amount": 20050, "currency": "MXN", "method": "spei", "payment_ref": "pi_3QmSpei00000001"}),
        ("async_payment_failed",
         stripe_event("evt_1QmOxxoFailed01", "checkout.session.async_payment_failed",
                      session("cs_test_a1Oxxo", 10, "unpaid", ["oxxo"], "pi_3QmOxxo00000001")),
         {"kind": "event", "event_id": "evt_1QmOxxoFailed01", "state": "failed", "order_id": ORDER,
          "amount": 10, "currency": "MXN", "method": "cash", "payment_ref": "pi_3QmOxxo00000001"}),
        ("checkout_expired",
         stripe_event("evt_1QmExpired00001", "checkout.session.expired",
                      session("cs_test_a1Expired", 20050, "unpaid", ["card", "oxxo", "customer_balance"], None,
                              status="expired")),
         {"kind": "event", "event_id": "evt_1QmExpired00001", "state": "expired", "order_id": ORDER,
          "amount": 20050, "currency": "MXN", "method": None, "payment_ref": None}),
        ("charge_refunded_in_full",
         stripe_event("evt_1QmRefunded0001", "charge.refunded", {
             "id": "ch_3QmPaidCard0001",
             "object": "charge",
             "amount": 20050,
             "amount_captured": 20050,
             "amount_refunded": 20050,
             "currency": "mxn",
             "metadata": {"order_id": ORDER},
             "paid": True,
             "payment_intent": "pi_3QmPaidCard0001",
             "payment_method_details": {"type": "card", "card": {"brand": "visa", "last4": "4242"}},
             "refunded": True,
             "status": "succeeded",
         }),
         {"kind": "event", "event_id": "evt_1QmRefunded0001", "state": "refunded", "order_id": ORDER,
          "amount": 20050, "currency": "MXN", "method": "card", "payment_ref": "pi_3QmPaidCard0001"}),
        ("payment_intent_requires_action_oxxo_voucher",
         stripe_event("evt_1QmVoucher00001", "payment_intent.requires_action", {
             "id": "pi_3QmOxxo00000001",
             "object": "payment_intent",
             "amount": 10,
             "amount_received": 0,
             "currency": "mxn",
             "metadata": {"order_id": ORDER},
             "next_action": {"type": "oxxo_display_details",
                             "oxxo_display_details": {"expires_after": STRIPE_T + 86400,
                                                      "number": "12345678901234657890123456789012"}},
             "payment_method_types": ["card", "oxxo"],
             "status": "requires_action",
         }),
         {"kind": "event", "event_id": "evt_1QmVoucher00001", "state": "pending", "order_id": ORDER,
          "amount": None, "currency": "MXN", "method": "cash", "payment_ref": "pi_3QmOxxo00000001"}),
        ("customer_created_is_ignored",
         stripe_event("evt_1QmCustomer0001", "customer.created",
                      {"id": "cus_QmCustomer01", "object": "customer", "email": None}),
         {"kind": "ignored", "event_id": "evt_1QmCustomer0001", "type": "customer.created"}),
    ]

    out = []
    for name, payload, expect in cases:
        header = stripe.WebhookSignature.generate_signature_header(payload, STRIPE_SECRET, timestamp=STRIPE_T)
        direct = stripe.WebhookSignature._compute_signature(f"{STRIPE_T}.{payload}", STRIPE_SECRET)
        assert header == f"t={STRIPE_T},v1={direct}", name
        out.append({"name": name, "timestamp": STRIPE_T, "payload": payload, "header": header, "expect": expect})

    # Secret rotation: Stripe signs with every active secret; the new one comes second here.
    old = stripe.WebhookSignature._compute_signature(f"{STRIPE_T}.{paid_payload}", STRIPE_OLD_SECRET)
    new = stripe.WebhookSignature._compute_signature(f"{STRIPE_T}.{paid_payload}", STRIPE_SECRET)
    out.append({"name": "two_v1_signatures_during_secret_rotation", "timestamp": STRIPE_T, "payload": paid_payload,
                "header": f"t={STRIPE_T},v1={old},v1={new}", "expect": cases[0][2]})

    for case in out:
        event = stripe.Webhook.construct_event(case["payload"], case["header"], STRIPE_SECRET, tolerance=None)
        assert event["id"] == case["expect"]["event_id"], case["name"]
        try:
            stripe.Webhook.construct_event(case["payload"], case["header"], "whsec_forged", tolerance=None)
            sys.exit(f"stripe-python accepted a forged copy of {case['name']}")
        except stripe.SignatureVerificationError:
            pass
    return {
        "generator": "shared/payments/tests/vectors/generate.py",
        "library": f"stripe-python {stripe.VERSION}",
        "secret": STRIPE_SECRET,
        "tolerance_secs": stripe.Webhook.DEFAULT_TOLERANCE,
        "cases": out,
    }


def mp_sign(data_id, request_id, ts):
    # The documented manifest, exactly as the SDK validator builds it (pairs omitted when missing).
    parts = []
    if data_id:
        parts.append(f"id:{data_id}")
    if request_id:
        parts.append(f"request-id:{request_id}")
    parts.append(f"ts:{ts}")
    manifest = ";".join(parts) + ";"
    return manifest, hmac.new(MP_SECRET.encode(), manifest.encode(), hashlib.sha256).hexdigest()


def mp_notification(notification_id, data_id, kind="payment", action="payment.updated"):
    return json.dumps({
        "action": action,
        "api_version": "v1",
        "data": {"id": data_id},
        "date_created": "2026-01-01T18:29:58Z",
        "id": notification_id,
        "live_mode": False,
        "type": kind,
        "user_id": 2079614828,
    }, separators=(",", ":"))


def mp_payment(payment_id, status, amount_text, payment_type, method, reference=ORDER):
    # Written by hand: transaction_amount must keep its decimal text (200.50), never a float round trip.
    return (
        '{"id":' + str(payment_id) + ',"status":"' + status + '","status_detail":"accredited",'
        '"transaction_amount":' + amount_text + ',"currency_id":"MXN","external_reference":"' + reference + '",'
        '"payment_type_id":"' + payment_type + '","payment_method_id":"' + method + '",'
        '"date_created":"2026-01-01T12:29:50.000-06:00","live_mode":false}'
    )


def mp_cases():
    specs = [
        # name, data.id, x-request-id, ts, notification, payment response, expectation
        ("payment_approved_card_ts_seconds", "1319761982", "2066ca19-c6f1-498a-be75-1923005edd06", str(MP_TS),
         mp_notification(124507340119, "1319761982"),
         mp_payment(1319761982, "approved", "200.50", "credit_card", "visa"),
         {"kind": "event", "event_id": "1319761982:approved", "state": "paid", "order_id": ORDER,
          "amount": 20050, "currency": "MXN", "method": "card", "payment_ref": "1319761982"}),
        ("payment_pending_oxxo_ts_milliseconds", "1319761990", "bb4b2a71-3f0c-4d57-9e60-2f1e3c7a9d11",
         str(MP_TS * 1000 + 123),
         mp_notification(124507340120, "1319761990", action="payment.created"),
         mp_payment(1319761990, "pending", "0.10", "ticket", "oxxo"),
         {"kind": "event", "event_id": "1319761990:pending", "state": "pending", "order_id": ORDER,
          "amount": 10, "currency": "MXN", "method": "cash", "payment_ref": "1319761990"}),
        ("payment_approved_spei_without_request_id", "1319762001", None, str(MP_TS),
         mp_notification(124507340121, "1319762001"),
         mp_payment(1319762001, "approved", "1250", "bank_transfer", "clabe"),
         {"kind": "event", "event_id": "1319762001:approved", "state": "paid", "order_id": ORDER,
          "amount": 125000, "currency": "MXN", "method": "spei", "payment_ref": "1319762001"}),
        ("payment_refunded", "1319761982", "5d0c4e7e-8a43-4b8e-a2f4-0c7f3f6f1b22", str(MP_TS),
         mp_notification(124507340122, "1319761982"),
         mp_payment(1319761982, "refunded", "200.50", "credit_card", "visa"),
         {"kind": "event", "event_id": "1319761982:refunded", "state": "refunded", "order_id": ORDER,
          "amount": 20050, "currency": "MXN", "method": "card", "payment_ref": "1319761982"}),
        ("order_topic_keeps_data_id_case", "ORD01JQ4S4KY8HWQ6NA5PXB65B3D3", "7a1d2c3e-0000-4a4a-9b9b-123456789abc",
         str(MP_TS),
         mp_notification(124507340123, "ORD01JQ4S4KY8HWQ6NA5PXB65B3D3", kind="order", action="order.processed"),
         None,
         {"kind": "ignored", "event_id": "124507340123", "type": "order"}),
    ]
    out = []
    for name, data_id, request_id, ts, body, payment, expect in specs:
        manifest, v1 = mp_sign(data_id, request_id, ts)
        header = f"ts={ts},v1={v1}"
        ts_ms = int(ts) if len(ts) > 10 else int(ts) * 1000
        if len(ts) > 10:
            # mercadopago 3.6.0 reads ts as seconds in its tolerance check: verify the signature alone.
            WebhookSignatureValidator.validate(header, request_id, data_id, MP_SECRET)
        else:
            WebhookSignatureValidator.validate(header, request_id, data_id, MP_SECRET, tolerance_seconds=300,
                                               now=lambda: ts_ms + 10_000)
        try:
            WebhookSignatureValidator.validate(header, request_id, data_id, "forged-secret")
            sys.exit(f"mercadopago accepted a forged copy of {name}")
        except InvalidWebhookSignatureError:
            pass
        if data_id and data_id != data_id.lower():
            try:
                WebhookSignatureValidator.validate(header, request_id, data_id.lower(), MP_SECRET)
                sys.exit(f"mercadopago accepted a lower-cased data.id for {name}")
            except InvalidWebhookSignatureError:
                pass
        kind = json.loads(body)["type"]
        out.append({
            "name": name,
            "query": f"data.id={data_id}&type={kind}",
            "data_id": data_id,
            "request_id": request_id,
            "ts": ts,
            "manifest": manifest,
            "header": header,
            "body": body,
            "payment_response": payment,
            "expect": expect,
        })
    return {
        "generator": "shared/payments/tests/vectors/generate.py",
        "library": f"mercadopago (Python SDK) {version('mercadopago')} WebhookSignatureValidator",
        "secret": MP_SECRET,
        "cases": out,
    }


def write(name, data):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    write("stripe.json", stripe_cases())
    write("mercadopago.json", mp_cases())
    print("wrote stripe.json and mercadopago.json")
