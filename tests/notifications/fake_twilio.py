"""A local stand-in for Twilio's Messages API (2010-04-01), as the official SDK calls it."""

import base64
import json
import urllib.parse

from tests.fake_server import LocalFake, QuietHandler

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-twilio-auth-token"
INVALID_NUMBER = "+15005550001"  # Twilio's magic test number for "invalid To"


class _Handler(QuietHandler):
    def _dispatch(self):
        fake = self.server.fake
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        form = dict(urllib.parse.parse_qsl(body))
        fake.requests.append({"path": self.path, "headers": dict(self.headers), "form": form})
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return self._reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
        if self.command != "POST" or self.path != f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json":
            return self._reply(404, {"code": 20404, "message": "Not found", "status": 404})
        if form.get("To") == INVALID_NUMBER:
            return self._reply(
                400, {"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}
            )
        return self._reply(
            201,
            {
                "sid": f"SM{len(fake.requests):032d}",
                "status": "queued",
                "to": form.get("To"),
                "from": form.get("From"),
                "body": form.get("Body"),
                "account_sid": ACCOUNT_SID,
            },
        )

    def _reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeTwilio(LocalFake):
    """Twilio's Messages API: basic auth with the account SID and token, form-encoded body."""

    handler = _Handler

    def __init__(self):
        self.requests = []
        super().__init__()
