#!/usr/bin/env python3
"""Test and benchmark client for the jframe device firmware under QEMU.

Speaks the wire format the way the Python seeds do (struct.pack('i', n) +
json header + body), so the firmware is checked against an independent
implementation rather than against jframe itself.

    qemu_client.py test  --port 7007 [--deadline 240]
    qemu_client.py bench --port 7007 [--seconds 3]

`test` exits 0 only if every check passed. `bench` prints requests/s for
64 B frames and MB/s for 16 KiB and 64 KiB frames.

QEMU's user network accepts a forwarded connection before the guest does,
so every connection is opened with a probe frame and retried until the
firmware itself answers.
"""

import argparse
import json
import os
import random
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"
IO_TIMEOUT = 20.0  # seconds per socket operation
MAX_REPLY_HEADER = 4096
SLOTS = 4  # the firmware's connections (CONNECTIONS in src/main.rs)


class Failure(Exception):
    pass


def frame(header, body=b""):
    """A frame as seed 002 builds it: struct.pack('i') + JSON + body."""
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<i", len(head)) + head + body


def recv_exact(sock, n):
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise EOFError("peer closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_reply(sock, first=b""):
    """One reply frame: (header dict, body bytes); `first` is what was
    already read of its length prefix."""
    (hlen,) = struct.unpack("<i", first + recv_exact(sock, 4 - len(first)))
    if not 2 <= hlen <= MAX_REPLY_HEADER:
        raise Failure(f"reply header length {hlen} out of range")
    header = json.loads(recv_exact(sock, hlen))
    size = header.get("data_size")
    if not isinstance(size, int) or size < 0 or size > (1 << 24):
        raise Failure(f"reply data_size {size!r} unusable: {header}")
    return header, recv_exact(sock, size)


def request(sock, op, body):
    """Sends one request, returns the reply; writes from a thread so a large
    body and its streamed reply can cross without deadlock."""
    data = frame({"data_size": len(body), "op": op}, body)
    errors = []

    def send():
        try:
            sock.sendall(data)
        except OSError as e:
            errors.append(e)

    writer = threading.Thread(target=send, daemon=True)
    writer.start()
    try:
        reply = read_reply(sock)
    finally:
        writer.join(IO_TIMEOUT)
    if errors:
        raise Failure(f"send failed: {errors[0]}")
    return reply


def expected(op, body):
    return body.upper() if op == "upper" else body


def check_reply(what, reply, op, body):
    header, got = reply
    if header.get("status") != "ok":
        raise Failure(f"{what}: status {header}")
    want = expected(op, body)
    if got != want:
        first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        raise Failure(f"{what}: {len(got)} bytes back, want {len(want)}; first difference at {first}")


def connect(port, deadline):
    """A connection the firmware has answered (probe echo), retried until
    `deadline` (time.monotonic())."""
    last = None
    while time.monotonic() < deadline:
        sock = None
        try:
            sock = socket.create_connection((HOST, port), timeout=3)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            probe = b"probe"
            check_reply("probe", request(sock, "echo", probe), "echo", probe)
            sock.settimeout(IO_TIMEOUT)
            return sock
        except (OSError, EOFError, Failure, ValueError) as e:
            last = e
            if sock is not None:
                sock.close()
            time.sleep(0.3)
    raise Failure(f"firmware did not answer on port {port}: {last}")


def close(sock):
    """Half-closes and waits for the server's FIN, as a polite peer does."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(5)
        while sock.recv(4096):
            pass
    except OSError:
        pass
    sock.close()


def payload(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n)) if n < 4096 else rng.randbytes(n)


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------

SIZES = [0, 1, 2, 3, 100, 255, 256, 300, 511, 512, 513, 1000, 1023, 1024, 1025,
         1460, 1500, 2048, 4096, 8191, 16384, 32768, 65535, 65536]


def check_sizes(port, deadline, rng):
    for op in ("echo", "upper"):
        sock = connect(port, deadline)
        for n in SIZES:
            body = payload(rng, n)
            check_reply(f"{op} {n} B", request(sock, op, body), op, body)
        close(sock)
    # Pipelining: several requests written at once, replies in order.
    sock = connect(port, deadline)
    bodies = [payload(rng, n) for n in (0, 7, 600, 3000, 64)]
    sock.sendall(b"".join(frame({"data_size": len(b), "op": "echo"}, b) for b in bodies))
    for i, body in enumerate(bodies):
        check_reply(f"pipelined #{i}", read_reply(sock), "echo", body)
    close(sock)
    return f"frames of 0 B..64 KiB byte-exact ({len(SIZES)} sizes x echo, upper) + pipelining"


def in_parallel(clients, run, timeout):
    """Runs run(i) for each client on its own thread; a Failure names every
    client that raised, or says one hung past `timeout` seconds."""
    errors = []

    def guarded(i):
        try:
            run(i)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"client {i}: {e!r}")

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    end = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.1, end - time.monotonic()))
    if errors or any(t.is_alive() for t in threads):
        raise Failure("; ".join(errors) or "a client hung")


def check_concurrent(port, deadline, rng, clients=4, rounds=12):
    socks = [connect(port, deadline) for _ in range(clients)]
    barrier = threading.Barrier(clients, timeout=IO_TIMEOUT)
    seeds = [rng.getrandbits(32) for _ in range(clients)]

    def run(i):
        r = random.Random(seeds[i])
        barrier.wait()  # all four connections are open and served at once
        for k in range(rounds):
            op = "echo" if k % 2 == 0 else "upper"
            body = payload(r, r.choice([0, 10, 700, 1500, 5000, 20000]))
            check_reply(f"client {i} round {k}", request(socks[i], op, body), op, body)

    try:
        in_parallel(clients, run, IO_TIMEOUT * rounds)
    finally:
        for s in socks:
            close(s)
    return f"{clients} concurrent connections x {rounds} frames"


def check_seed_peer(port, deadline):
    """Seed 002's client, near verbatim: struct.pack('i'), json.dumps, upper
    by default (no op), plus the old `size` key of its first program."""
    sock = connect(port, deadline)
    msg = "hello world, from seed 002"
    body = msg.encode("utf-8")
    header = json.dumps({"data_size": len(body)}).encode("utf-8")
    sock.send(struct.pack("i", len(header)))
    sock.send(header)
    sock.send(body)
    head_len = struct.unpack("i", recv_exact(sock, 4))[0]
    reply_header = json.loads(recv_exact(sock, head_len).decode("utf-8"))
    reply = recv_exact(sock, reply_header["data_size"]).decode("utf-8")
    if reply != msg.upper() or reply_header.get("status") != "ok":
        raise Failure(f"seed peer: {reply_header} {reply!r}")
    old = json.dumps({"size": 2}).encode()
    sock.sendall(struct.pack("i", len(old)) + old + b"hi")
    h, got = read_reply(sock)
    if got != b"HI":
        raise Failure(f"old size dialect: {h} {got!r}")
    close(sock)
    return "Python seed-002 peer (upper by default, old `size` key)"


def first_reply(port, op, body, counts, deadline):
    """One request on a new connection, retried until a reply comes: the
    socket and its reply (`ok` or `busy`). A device with no slot closes
    before a byte, or, with every socket taken, refuses the SYN, which
    QEMU's user network (that has already accepted the host's connection)
    passes on as a reset; both are retried and counted in `counts`
    ("closed", "reset"). A reply cut after its first byte is a Failure:
    SPEC allows an answer or a clean close, never a cut."""
    while True:
        sock = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.sendall(frame({"data_size": len(body), "op": op}, body))
            first = sock.recv(1)
        except ConnectionResetError:
            first = None
        if first:
            try:
                return sock, read_reply(sock, first)
            except (EOFError, ConnectionResetError) as e:
                sock.close()
                raise Failure(f"a reply cut short: {e!r}") from e
        sock.close()
        counts["reset" if first is None else "closed"] += 1
        if time.monotonic() > deadline:
            raise Failure(f"no reply by the deadline ({counts})")
        time.sleep(0.05)


def served(port, body, deadline):
    """A fresh client, retried on `busy` (and by first_reply) until it is
    served: the seconds it took, and the attempts that got no reply."""
    start = time.monotonic()
    counts = {"busy": 0, "closed": 0, "reset": 0}
    while True:
        sock, reply = first_reply(port, "echo", body, counts, deadline)
        close(sock)
        if reply[0].get("status") != "busy":
            check_reply("fresh client", reply, "echo", body)
            return time.monotonic() - start, counts
        counts["busy"] += 1
        if time.monotonic() > deadline:
            raise Failure(f"a fresh client not served within {time.monotonic() - start:.0f} s")
        time.sleep(0.2)


def check_vanishing(port, deadline, clients=50):
    """Clients that send half a frame and vanish: each one's slot comes
    back within the device's deadlines, and a fresh client is served."""
    half = frame({"data_size": 5, "op": "echo"})[:12]
    for _ in range(clients):
        sock = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
        try:
            sock.sendall(half)
        except OSError:
            pass
        sock.close()
    waited, counts = served(port, b"fresh", min(deadline, time.monotonic() + 120))
    return (f"{clients} clients sent half a frame and vanished; a fresh one served after "
            f"{waited:.1f} s (attempts before: {counts})")


def check_full_pool(port, deadline, slots):
    """Every slot inside a frame (a whole request and half the next in one
    write): a newcomer is told `busy`; then each held frame completes."""
    held = []
    try:
        for i in range(slots):
            sock = connect(port, deadline)
            half = frame({"data_size": 2, "op": "echo"})
            sock.sendall(frame({"data_size": 2, "op": "echo"}, b"go") + half[:10])
            check_reply(f"held {i}", read_reply(sock), "echo", b"go")
            held.append((sock, half))
        # The spare socket answers at once: no attempt may go unanswered.
        counts = {"closed": 0, "reset": 0}
        sock, reply = first_reply(port, "echo", b"newcomer", counts, deadline)
        sock.close()
        if reply[0].get("status") != "busy" or any(counts.values()):
            raise Failure(f"a newcomer to a full pool: want busy at once, got {reply} after {counts}")
        for i, (sock, half) in enumerate(held):
            sock.sendall(half[10:] + b"hi")
            check_reply(f"held {i} completed", read_reply(sock), "echo", b"hi")
    finally:
        for sock, _ in held:
            close(sock)
    return f"{slots} connections inside a frame; a newcomer got busy; all {slots} completed"


def check_crowd(port, deadline, clients=9, rounds=50):
    """More clients than slots, each doing round trips: the pool evicts the
    connection idle longest for a newcomer. A request on a connection
    already served gets its reply or `busy`, never a close with no answer;
    a client told `busy` (or closed before its first reply) reconnects."""
    each = [{"busy": 0, "closed": 0, "reset": 0} for _ in range(clients)]

    def run(c):
        # A connection kept open has been served: its requests must get a
        # reply or `busy`.
        counts = each[c]
        sock = None
        k = 0
        while k < rounds:
            body = f"client {c} round {k}".encode()
            if sock is None:
                sock, reply = first_reply(port, "echo", body, counts, deadline)
            else:
                try:
                    reply = request(sock, "echo", body)
                except (EOFError, ConnectionResetError) as e:
                    raise Failure(f"round {k}: closed with no answer after a reply: {e!r}") from e
            if reply[0].get("status") == "busy":
                counts["busy"] += 1
                sock.close()
                sock = None
                if time.monotonic() > deadline:
                    raise Failure(f"round {k} not done by the deadline")
                continue
            check_reply(f"client {c} round {k}", reply, "echo", body)
            k += 1
        close(sock)

    in_parallel(clients, run, max(1.0, deadline - time.monotonic()))
    total = {key: sum(c[key] for c in each) for key in each[0]}
    return (f"{clients} clients x {rounds} round trips on the pool: all served "
            f"({total['busy']} busy; before a first reply {total['closed']} closed and "
            f"{total['reset']} reset, each retried)")


def expect_error(sock, status, what):
    header, body = read_reply(sock)
    if header.get("status") != status or body:
        raise Failure(f"{what}: want {status}, got {header} {body!r}")
    if not header.get("error"):
        raise Failure(f"{what}: {status} without an error message: {header}")


def expect_closed(sock, what):
    sock.settimeout(10)
    try:
        rest = sock.recv(4096)
    except ConnectionResetError:
        return
    if rest:
        raise Failure(f"{what}: connection not closed, got {rest[:40]!r}")


def check_malformed(port, deadline, rng):
    results = []
    # Prefix out of range: bad_frame, then the server closes.
    for name, prefix in (("H=-5", b"\xfb\xff\xff\xff"), ("H=1", struct.pack("<i", 1)),
                         ("H=0", struct.pack("<i", 0)), ("H=1 GiB", struct.pack("<i", 1 << 30))):
        sock = connect(port, deadline)
        sock.sendall(prefix + b"{}")
        expect_error(sock, "bad_frame", name)
        expect_closed(sock, name)
        sock.close()
        results.append(name)
    # Headers that are not well-formed, or whose data_size is missing or
    # bad: where the frame ends is unknown (SPEC: fatal), so bad_frame, then
    # the server closes, even if a good frame follows.
    fatal = [
        ("bad JSON after data_size", frame(b'{"data_size": 3,,}', b"abc")),
        ("bad JSON", frame(b'{"x": ]}')),
        ("nesting bomb", frame(b'{"a":' + b"[" * 40 + b"]" * 40 + b', "data_size": 0}')),
        ("not UTF-8", frame(b'{"data_size": 0, "x": "\xff"}')),
        ("no data_size", frame({"op": "echo"})),
        ("duplicate key", frame(b'{"data_size": 0, "data_size": 0}')),
    ]
    for name, data in fatal:
        sock = connect(port, deadline)
        sock.sendall(data + frame({"data_size": 2, "op": "echo"}, b"hi"))
        expect_error(sock, "bad_frame", name)
        expect_closed(sock, name)
        sock.close()
        results.append(name)
    # A reply sent to the server is never answered: it closes.
    sock = connect(port, deadline)
    sock.sendall(frame({"data_size": 2, "status": "ok"}, b"hi"))
    expect_closed(sock, "a reply sent to the server")
    sock.close()
    results.append("reply never answered")
    # Well-formed headers with a valid data_size and a wrong key: an error
    # reply, the body is skipped, the connection goes on.
    sock = connect(port, deadline)
    cases = [
        ("unknown op", frame({"data_size": 3, "op": "frobnicate"}, b"abc"), "bad_request"),
        ("op not a string", frame({"data_size": 3, "op": 5}, b"abc"), "bad_request"),
        ("get (no files here)", frame({"data_size": 0, "op": "get", "name": "x"}), "bad_request"),
    ]
    for name, data, status in cases:
        sock.sendall(data)
        expect_error(sock, status, name)
        body = payload(rng, 300)
        check_reply(f"after {name}", request(sock, "echo", body), "echo", body)
        results.append(name)
    # Unknown op with a body larger than any buffer: skipped, stream intact.
    big = payload(rng, 20000)
    sock.sendall(frame({"data_size": len(big), "op": "frobnicate"}, big))
    expect_error(sock, "bad_request", "unknown op, 20 KB body")
    check_reply("after skipped body", request(sock, "upper", b"still here"), "upper", b"still here")
    results.append("unknown op with 20 KB body")
    close(sock)
    # Truncated frame, then a fresh client: the firmware is still serving.
    sock = connect(port, deadline)
    sock.sendall(frame({"data_size": 1000, "op": "echo"}, b"x" * 10)[:40])
    sock.close()
    sock = connect(port, deadline)
    check_reply("after abuse", request(sock, "upper", b"ok?"), "upper", b"ok?")
    close(sock)
    return "malformed frames answered per SPEC: " + ", ".join(results) + "; still serving"


def run_tests(port, deadline_s):
    deadline = time.monotonic() + deadline_s
    rng = random.Random(2)
    checks = [
        ("sizes", lambda: check_sizes(port, deadline, rng)),
        ("concurrency", lambda: check_concurrent(port, deadline, rng)),
        ("seed peer", lambda: check_seed_peer(port, deadline)),
        ("malformed", lambda: check_malformed(port, deadline, rng)),
        ("vanishing", lambda: check_vanishing(port, deadline)),
        ("full pool", lambda: check_full_pool(port, deadline, SLOTS)),
        ("crowd", lambda: check_crowd(port, deadline)),
    ]
    failed = 0
    for name, check in checks:
        start = time.monotonic()
        try:
            detail = check()
            print(f"ok   {name}: {detail} ({time.monotonic() - start:.1f} s)", flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failed += 1
            print(f"FAIL {name}: {e!r}", flush=True)
        if time.monotonic() > deadline:
            print("FAIL deadline exceeded", flush=True)
            return 1
    return 1 if failed else 0


# --------------------------------------------------------------------------
# Benchmark
# --------------------------------------------------------------------------

def bench(port, seconds, deadline_s):
    deadline = time.monotonic() + deadline_s
    sock = connect(port, deadline)
    body = os.urandom(64)
    data = frame({"data_size": 64, "op": "echo"}, body)
    count, start = 0, time.monotonic()
    while time.monotonic() - start < seconds and count < 100_000:
        sock.sendall(data)
        _, got = read_reply(sock)
        if got != body:
            raise Failure("bench: echo mismatch")
        count += 1
    rate = count / (time.monotonic() - start)
    print(f"64 B echo, one connection, request/reply: {rate:.0f} requests/s ({count} requests)")
    for size in (16 * 1024, 64 * 1024):
        body = os.urandom(size)
        count, start = 0, time.monotonic()
        while time.monotonic() - start < seconds and count < 10_000:
            check_reply("bench", request(sock, "echo", body), "echo", body)
            count += 1
        elapsed = time.monotonic() - start
        print(f"{size // 1024} KiB echo, one connection: {count * size / elapsed / 1e6:.2f} MB/s "
              f"of payload each way ({count} frames in {elapsed:.1f} s)")
    close(sock)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["test", "bench"])
    parser.add_argument("--port", type=int, default=7007)
    parser.add_argument("--deadline", type=float, default=240.0, help="overall limit, seconds")
    parser.add_argument("--seconds", type=float, default=3.0, help="bench: seconds per size")
    args = parser.parse_args()
    if args.mode == "test":
        return run_tests(args.port, args.deadline)
    return bench(args.port, args.seconds, args.deadline)


if __name__ == "__main__":
    sys.exit(main())
