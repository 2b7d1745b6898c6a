"""A TCP proxy that a test controls, to put a real service (ZooKeeper, RabbitMQ) out of reach
of the processes under test and bring it back, without touching the service itself.

Point the clients at the proxy instead of the service, then cut and restore::

    with TcpProxy("127.0.0.1", 2181) as proxy:
        settings = zk.model_copy(update={"hosts": f"127.0.0.1:{proxy.port}"})
        ...                          # start the processes with these settings
        proxy.cut()                  # every open connection closed, both ways
        time.sleep(15)               # new connections are refused meanwhile
        proxy.restore()              # connections are accepted and relayed again

:meth:`TcpProxy.cut` closes every relayed connection on both sides (the client sees its
socket closed, the service sees its client go, as after a network failure that resets
connections). Until :meth:`TcpProxy.restore`, a new connection is accepted and closed at
once, or, with ``cut(black_hole=True)``, accepted and held without a byte relayed (a
partition: the client only notices by its own timeouts); held ones are closed on restore.

One thread accepts, two threads per connection copy bytes; all are daemons, and ``close``
(the ``with`` block's end) stops them. The proxy listens on 127.0.0.1, on a free port
unless one is given. Tests import it as ``from tcp_proxy import TcpProxy``
(``tests/conftest.py`` puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from types import TracebackType

log = logging.getLogger(__name__)
CHUNK = 65536


class TcpProxy:
    """Relays connections from ``127.0.0.1:port`` to ``host:upstream_port`` until cut."""

    def __init__(self, host: str, upstream_port: int, port: int = 0) -> None:
        self.upstream = (host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()   # both ends of every relayed connection
        self._held: set[socket.socket] = set()   # accepted while black-holed
        self._cut = False
        self._black_hole = False
        self._closed = False
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True,
                                          name=f"tcp-proxy-{self.port}")
        self._acceptor.start()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def cut(self, black_hole: bool = False) -> None:
        """Close every open connection, both ways; until :meth:`restore`, close each new one
        as soon as it is accepted (or, with ``black_hole``, hold it silently)."""
        with self._lock:
            self._cut, self._black_hole = True, black_hole
            doomed, self._open = self._open, set()
        _close_all(doomed)
        log.info("proxy :%d -> %s:%d cut (%d sockets closed)", self.port, *self.upstream,
                 len(doomed))

    def restore(self) -> None:
        """Relay new connections again; connections held by a black hole are closed."""
        with self._lock:
            self._cut = False
            held, self._held = self._held, set()
        _close_all(held)
        log.info("proxy :%d -> %s:%d restored", self.port, *self.upstream)

    def close(self) -> None:
        """Stop listening and close every connection (idempotent)."""
        with self._lock:
            self._closed = True
            doomed, self._open, self._held = self._open | self._held, set(), set()
        _close_all({self._listener, *doomed})
        self._acceptor.join(timeout=5)

    # -- the threads ----------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # the listener was closed: the proxy is done
                return
            with self._lock:
                if self._closed:
                    _close_all({client})
                    return
                if self._cut and self._black_hole:
                    self._held.add(client)
                    continue
                cut = self._cut
            if cut:
                _close_all({client})
            else:
                self._relay(client)

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError as exc:
            log.warning("proxy :%d cannot reach %s:%d: %s", self.port, *self.upstream, exc)
            _close_all({client})
            return
        upstream.settimeout(None)
        with self._lock:
            if self._cut or self._closed:  # cut while connecting
                _close_all({client, upstream})
                return
            self._open |= {client, upstream}
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True,
                             name=f"tcp-proxy-{self.port}-pump").start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        """Copy bytes one way until either side closes, then close both."""
        try:
            while data := source.recv(CHUNK):
                sink.sendall(data)
        except OSError:
            pass  # closed by cut(), close() or the other side
        with self._lock:
            self._open -= {source, sink}
        _close_all({source, sink})


def _close_all(sockets: set[socket.socket]) -> None:
    """Shut down and close each socket (a shutdown wakes a thread blocked in recv)."""
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()
