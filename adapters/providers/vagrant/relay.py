"""A TCP relay: how guests reach a host service that listens on loopback only."""

from __future__ import annotations

import logging
import socket
import threading
from contextlib import suppress

log = logging.getLogger(__name__)


class TcpRelay:
    """Accepts connections on (listen_host, port) and pipes each to (target_host, target_port)."""

    def __init__(self, listener: socket.socket, target: tuple[str, int]) -> None:
        self.listener = listener
        self.target = target
        self.address = listener.getsockname()[:2]
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"relay-{self.address[1]}",
                                        daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=10)
            upstream.settimeout(None)
        except OSError as exc:
            log.warning("relay %s:%s -> %s:%s: %s", *self.address, *self.target, exc)
            client.close()
            return
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        self._closed.set()
        with suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
