"""A TLS-terminating front for a real local server, as an ingress or load balancer with a
private CA's certificate is in production: it accepts TLS on a free loopback port with a
certificate generated at start (:func:`floe_checks.servers.tls.self_signed`, or one a test
issued, :mod:`tests.preflight.certificates`) and pipes the
plain bytes to the server behind it. The service answering is the real one (SeaweedFS' catalog,
moto's S3, Cube, Dagster); only the TLS layer is this module's.

Not a stand-in for any service: it checks nothing and changes nothing in the bytes. It runs as
threads of the test process (no PID of its own) and stops when its ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from floe_checks.servers.tls import ServerCertificate, self_signed


@dataclass(frozen=True)
class TlsFront:
    """``https://127.0.0.1:port`` in front of ``127.0.0.1:target_port``; clients trust it with
    ``ca_bundle``."""

    port: int
    target_port: int
    ca_bundle: Path

    def url(self, path: str = "") -> str:
        return f"https://127.0.0.1:{self.port}{path}"


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _handle(conn: socket.socket, context: ssl.SSLContext, target_port: int) -> None:
    try:
        tls = context.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError):
        conn.close()  # a client that does not trust the certificate ends here
        return
    try:
        upstream = socket.create_connection(("127.0.0.1", target_port), timeout=10)
    except OSError:
        tls.close()
        return
    upstream.settimeout(None)
    back = threading.Thread(target=_pipe, args=(upstream, tls), daemon=True)
    back.start()
    _pipe(tls, upstream)
    back.join(timeout=30)
    tls.close()
    upstream.close()


@contextlib.contextmanager
def tls_front(
    target_port: int, directory: Path, certificate: ServerCertificate | None = None
) -> Iterator[TlsFront]:
    """A TLS front for ``127.0.0.1:target_port`` until the block ends, serving ``certificate``
    (default: a new self-signed one for 127.0.0.1)."""
    certificate = certificate or self_signed(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate.key_and_certificate)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # the listener was closed
            threading.Thread(target=_handle, args=(conn, context, target_port), daemon=True).start()

    acceptor = threading.Thread(target=serve, daemon=True)
    acceptor.start()
    try:
        yield TlsFront(port, target_port, certificate.ca_bundle)
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() does not
        listener.close()
        acceptor.join(timeout=5)
