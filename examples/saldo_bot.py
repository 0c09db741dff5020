"""A bank's own WhatsApp bot behind mostrador's bridge, in the standard library alone.

mostrador sends the bank every customer message no notification takes as a signed
`message.received` event (notification settings `bot_bridge: true`); this bot checks the signature,
answers "saldo" and "movimientos" from the bank's systems (a dictionary here) and replies through
`POST /v1/messages` inside the 24-hour window. The event id is the reply's idempotency key, so a
redelivered event never sends a second answer.

    python3 examples/saldo_bot.py --port 8090 --api http://127.0.0.1:3000 \
        --key "$KEY" --secret "$WEBHOOK_SECRET"
"""

import argparse
import hashlib
import hmac
import json
import time
import unicodedata
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECS = 300

# The bank's systems: balances and last movements by WhatsApp id (centavos).
ACCOUNTS = {
    "525512345678": {
        "saldo": 1248050,
        "movimientos": [("OXXO Insurgentes", -12500), ("Nómina", 1500000)],
    },
}


def pesos(centavos: int) -> str:
    sign = "-" if centavos < 0 else ""
    whole, cents = divmod(abs(centavos), 100)
    return f"{sign}${whole:,}.{cents:02d}"


def plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def verified(secret: str, header: str, body: bytes, now: int) -> bool:
    """`t={t},v1={hex HMAC-SHA256(secret, "{t}.{body}")}`, at most five minutes old."""
    parts = dict(p.strip().split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - t) > TOLERANCE_SECS:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


def answer(wa_id: str, text: str) -> str:
    account = ACCOUNTS.get(wa_id)
    words = plain(text or "")
    if account is None:
        return "No encontramos una cuenta ligada a este número. Llama al 800 000 0000."
    if "saldo" in words:
        return f"Tu saldo disponible es {pesos(account['saldo'])}."
    if "movimiento" in words:
        lines = [f"• {what}: {pesos(amount)}" for what, amount in account["movimientos"]]
        return "Tus últimos movimientos:\n" + "\n".join(lines)
    return "Escribe SALDO para ver tu saldo o MOVIMIENTOS para tus últimos movimientos."


def make_handler(api: str, key: str, secret: str, now=lambda: int(time.time())):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            signature = self.headers.get("x-mostrador-signature", "")
            if not verified(secret, signature, body, now()):
                self.send_response(401)
                self.end_headers()
                return
            event = json.loads(body)
            if event.get("type") == "message.received":
                data = event["data"]
                reply = {
                    "branch_id": data["branch_id"],
                    "to": data["wa_id"],
                    "idempotency_key": event["id"],
                    "message": {"type": "text", "text": {"body": answer(data["wa_id"], data.get("text"))}},
                }
                request = urllib.request.Request(
                    f"{api}/v1/messages",
                    data=json.dumps(reply).encode(),
                    headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
                    method="POST",
                )
                with urllib.request.urlopen(request, timeout=10) as r:
                    r.read()
            # Any 2xx acknowledges the event; anything else makes mostrador retry it later.
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_):
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--api", default="http://127.0.0.1:3000")
    parser.add_argument("--key", required=True, help="the merchant API key")
    parser.add_argument("--secret", required=True, help="the webhook secret (shown once)")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.api, args.key, args.secret))
    print(f"saldo bot on http://127.0.0.1:{args.port}/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
