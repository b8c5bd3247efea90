"""One keep-alive HTTP/1.1 connection that requests its paths in order and times each: the API bench's client.

The bench runs one such process per connection. Blocking raw sockets keep a request's client cost to a send,
a receive and a header scan, and no connection waits for another's interpreter lock. Each latency runs from
the request's first byte sent to its body's last byte received.

Protocol on stdin/stdout: the paths, one a line, then an empty line; the process connects and prints
"ready"; on a line "go" it sends the requests and prints one JSON object: the latencies in ns, the answers
without `marker` in their body ("wrong"), the non-200 answers ("errors"), its first send and last receive
(perf_counter_ns, comparable across processes), and the CPU seconds the loop took.

Run: python -m bench.http_load PORT MARKER (stdlib only, so a process starts in milliseconds).
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench.api_access import bench_key

HEADER_END = b"\r\n\r\n"
CONTENT_LENGTH = b"\r\ncontent-length:"


def exchange(connection: socket.socket, request: bytes) -> tuple[int, bytes]:
    """Sends one request and reads its answer: (status, body). Needs a Content-Length answer."""
    connection.sendall(request)
    data = b""
    while (end := data.find(HEADER_END)) < 0:
        data += receive(connection)
    head = data[:end].lower()
    status = int(head[9:12])
    start = head.find(CONTENT_LENGTH)
    if start < 0:
        raise ValueError(f"an answer without Content-Length: {head[:200]!r}")
    stop = head.find(b"\r\n", start + 2)
    length = int(head[start + len(CONTENT_LENGTH) : stop if stop >= 0 else len(head)])
    body = data[end + len(HEADER_END) :]
    while len(body) < length:
        body += receive(connection)
    if len(body) != length:
        raise ValueError(f"{len(body) - length} bytes after the body: the server answered more than asked")
    return status, body


def receive(connection: socket.socket) -> bytes:
    chunk = connection.recv(262144)
    if not chunk:
        raise ConnectionError("the server closed the connection")
    return chunk


def run(port: int, marker: bytes, paths: Sequence[str]) -> dict[str, Any]:
    """Connects, waits for "go" on stdin, requests every path; the figures described in the module docstring."""
    key = f"Authorization: Bearer {bench_key()}\r\n"
    requests = [f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{key}\r\n".encode() for path in paths]
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        raise RuntimeError("expected 'go' on stdin")
    latencies: list[int] = []
    wrong = errors = 0
    cpu_before = time.process_time()
    first = time.perf_counter_ns()
    for request in requests:
        started = time.perf_counter_ns()
        status, body = exchange(connection, request)
        latencies.append(time.perf_counter_ns() - started)
        if status != 200:
            errors += 1
        elif marker not in body:
            wrong += 1
    last = time.perf_counter_ns()
    cpu_s = time.process_time() - cpu_before
    connection.close()
    return {
        "latencies_ns": latencies,
        "wrong": wrong,
        "errors": errors,
        "first_ns": first,
        "last_ns": last,
        "cpu_s": cpu_s,
    }


def main(argv: Sequence[str]) -> int:
    port, marker = int(argv[0]), argv[1].encode()
    paths = []
    while line := sys.stdin.readline().strip():
        paths.append(line)
    print(json.dumps(run(port, marker, paths)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
