#!/usr/bin/env python3
"""Idle connections against a running gateway (issue #7): opens N TCP connections that never send a
byte, measures the latency of ordinary requests from other clients before and while they are held,
and how long the server takes to close the idle ones (the header read timeout).

Run through tools/idle-connections.sh, which starts `sluse demo` with enough file descriptors; or
by hand against any plain-HTTP gateway:

    python3 tools/idle_connections.py --port 8080 --connections 10000 --pid <gateway pid>
"""

import argparse
import errno
import http.client
import os
import selectors
import socket
import statistics
import sys
import time


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def latency(host, port, path, token, count):
    """`count` requests, each on a new connection (as a new client would): ms per request."""
    times, failures = [], 0
    for _ in range(count):
        started = time.perf_counter()
        try:
            conn = http.client.HTTPConnection(host, port, timeout=10)
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status != 200:
                failures += 1
                continue
        except OSError:
            failures += 1
            continue
        times.append((time.perf_counter() - started) * 1000)
    return times, failures


def describe(name, result):
    times, failures = result
    if not times:
        return f"{name}: all {failures} failed"
    return (
        f"{name}: {len(times)} ok, {failures} failed; ms p50 {percentile(times, 50):.2f}, "
        f"p99 {percentile(times, 99):.2f}, max {max(times):.2f}"
    )


def server_state(pid):
    """(open fds, VmRSS MiB) of the gateway, when its pid is known."""
    if not pid:
        return None
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        with open(f"/proc/{pid}/status") as status:
            rss = next(int(l.split()[1]) for l in status if l.startswith("VmRSS:"))
        return fds, rss / 1024
    except (OSError, StopIteration):
        return None


def listen_overflows():
    """The kernel's count of connections dropped because a listen queue was full."""
    try:
        with open("/proc/net/netstat") as netstat:
            lines = netstat.read().splitlines()
        for names, values in zip(lines[::2], lines[1::2]):
            if names.startswith("TcpExt:"):
                table = dict(zip(names.split()[1:], values.split()[1:]))
                return int(table.get("ListenOverflows", 0))
    except OSError:
        pass
    return 0


def accept_queue(port):
    """Connections waiting in the kernel's accept queue of the listener on `port` (the `rx_queue`
    of a LISTEN socket in /proc/net/tcp), or None."""
    try:
        with open("/proc/net/tcp") as tcp:
            for line in tcp.read().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
                    return int(fields[4].split(":")[1], 16)
    except (OSError, IndexError, ValueError):
        pass
    return None


def open_idle(host, port, count, batch=256):
    """Opens `count` connections (non-blocking, `batch` handshakes at a time) that send nothing.
    Waits for the gateway to accept each batch before the next, so that the connections reach it
    instead of overflowing the kernel's listen queue (whose overflow the client does not see).
    Returns {socket: connected_at} and the number that failed."""
    sel = selectors.DefaultSelector()
    connected, failed, started = {}, 0, 0
    pending = 0
    while started < count or pending:
        if pending == 0:
            # The previous batch is connected: let the gateway accept it before the next.
            for _ in range(500):
                if not accept_queue(port):
                    break
                time.sleep(0.01)
            for _ in range(min(batch, count - started)):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                err = s.connect_ex((host, port))
                started += 1
                if err not in (0, errno.EINPROGRESS):
                    failed += 1
                    s.close()
                    continue
                sel.register(s, selectors.EVENT_WRITE)
                pending += 1
            if pending == 0:
                continue
        for key, _ in sel.select(timeout=5):
            s = key.fileobj
            sel.unregister(s)
            pending -= 1
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                connected[s] = time.monotonic()
            else:
                failed += 1
                s.close()
    sel.close()
    return connected, failed


def wait_closed(connected, limit_s):
    """Waits up to `limit_s` for the server to close the idle connections; returns the seconds each
    closed one stayed open, and what the server sent before closing (if anything), counted."""
    sel = selectors.DefaultSelector()
    for s in connected:
        sel.register(s, selectors.EVENT_READ)
    open_for, sent = [], {}
    deadline = time.monotonic() + limit_s
    remaining = len(connected)
    while remaining and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if data:
                first = data.split(b"\r\n", 1)[0].decode("latin-1")
                sent[first] = sent.get(first, 0) + 1
                continue
            sel.unregister(s)
            open_for.append(time.monotonic() - connected[s])
            s.close()
            remaining -= 1
    sel.close()
    return open_for, sent, remaining


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--requests", type=int, default=200, help="per path and phase")
    parser.add_argument("--token", help="a bearer token for GET /v1/me")
    parser.add_argument("--pid", type=int, help="the gateway's pid (fds and RSS from /proc)")
    parser.add_argument("--timeout-ms", type=int, default=10000, help="the header read timeout")
    args = parser.parse_args()

    paths = [("/healthz", None), ("/readyz", None)]
    if args.token:
        paths.append(("/v1/me", args.token))

    def measure(phase):
        for path, token in paths:
            print(f"  {phase} {describe(path, latency(args.host, args.port, path, token, args.requests))}")

    print(f"idle connections: {args.connections} to {args.host}:{args.port}, header read timeout "
          f"{args.timeout_ms} ms; {args.requests} requests per path, each on a new connection")
    print(f"  server before: {server_state(args.pid) or 'n/a'} (fds, RSS MiB)")
    measure("before")

    started = time.monotonic()
    overflows = listen_overflows()
    connected, failed = open_idle(args.host, args.port, args.connections)
    opened_in = time.monotonic() - started
    overflows = listen_overflows() - overflows
    print(f"  opened {len(connected)} idle connections in {opened_in:.1f} s ({failed} failed; "
          f"listen queue overflows meanwhile: {overflows})")
    state = server_state(args.pid)
    print(f"  server while held: {state or 'n/a'} (fds, RSS MiB)")
    measure("while held")
    measured_at = time.monotonic() - started

    limit = args.timeout_ms / 1000 * 3 + 10
    open_for, sent, remaining = wait_closed(connected, limit)
    closed = len(open_for)
    print(f"  closed by the server within {limit:.0f} s: {closed} of {len(connected)}; still open: "
          f"{remaining}")
    if open_for:
        print(f"  an idle connection stayed open s: min {min(open_for):.1f}, "
              f"p50 {statistics.median(open_for):.1f}, max {max(open_for):.1f}")
    if sent:
        print(f"  the server's last words before closing: {sent}")
    print(f"  server after: {server_state(args.pid) or 'n/a'} (fds, RSS MiB)")
    measure("after")
    print(
        f"SUMMARY idle={len(connected)} failed_to_open={failed} opened_s={opened_in:.1f} "
        f"measured_within_s={measured_at:.1f} listen_overflows={overflows} closed={closed} "
        f"still_open={remaining} "
        f"server_fds_held={state[0] if state else 'n/a'} "
        f"server_rss_held_mib={f'{state[1]:.1f}' if state else 'n/a'}"
    )
    for s in list(connected):
        s.close()
    return 0 if remaining == 0 and len(connected) == args.connections else 1


if __name__ == "__main__":
    sys.exit(main())
