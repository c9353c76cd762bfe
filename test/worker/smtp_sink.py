#!/usr/bin/python3
"""smtp_sink.py — a local SMTP relay for the daemon's e-mail tests.

Listens on 127.0.0.1 on a free port (written to DIR/port once it accepts
connections), offers STARTTLS with CERT/KEY and requires it before AUTH and
mail, accepts one login (USER/PASSWORD), and stores every accepted message as
DIR/N.eml with its envelope in DIR/N.json. With --fail-first K the first K
messages are refused with "451 4.3.0 try again later" (a temporary failure),
to test the daemon's delivery retry. Runs until killed (SIGTERM).

    smtp_sink.py DIR CERT KEY USER PASSWORD [--fail-first K]
"""
import json
import os
import signal
import socket
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

out, cert, key, user, password = sys.argv[1:6]
fail_first = int(sys.argv[7]) if len(sys.argv) > 7 and sys.argv[6] == "--fail-first" else 0


class Sink:
    def __init__(self):
        self.seen = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.seen += 1
            n = self.seen
        if n <= fail_first:
            with open(os.path.join(out, "refused"), "a") as f:
                f.write(f"{n}\n")
            with open(os.path.join(out, f"{n}.refused"), "wb") as f:
                f.write(envelope.original_content or envelope.content)
            return "451 4.3.0 try again later"
        with open(os.path.join(out, f"{n}.eml"), "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(os.path.join(out, f"{n}.json"), "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "login": session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None,
                       "tls": session.ssl is not None}, f)
        return "250 2.0.0 stored"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
          and auth_data.password.decode() == password)
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
controller = Controller(Sink(), hostname="127.0.0.1", port=port, tls_context=ctx,
                        require_starttls=True, authenticator=authenticator,
                        auth_required=True, auth_require_tls=True)
controller.start()
with open(os.path.join(out, "port.tmp"), "w") as f:
    f.write(str(port))
os.rename(os.path.join(out, "port.tmp"), os.path.join(out, "port"))
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
stop.wait()
controller.stop()
