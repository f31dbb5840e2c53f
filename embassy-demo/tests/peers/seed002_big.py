"""A seed-002-style client (struct.pack('i') + json.dumps header, the
whole body sent with sendall before the reply is read) with one big `upper`
body, checked byte for byte.

usage: seed002_big.py PORT SIZE   -> prints "ok SIZE bytes in T s" or exits
non-zero with the reason (e.g. "peer closed after N of M bytes").
"""
import json
import socket
import struct
import sys
import time


def read_exact(con, n):
    data = bytearray()
    while len(data) < n:
        chunk = con.recv(min(n - len(data), 65536))
        if not chunk:
            raise EOFError('peer closed after %d of %d bytes' % (len(data), n))
        data += chunk
    return bytes(data)


def main():
    port, size = int(sys.argv[1]), int(sys.argv[2])
    s = socket.create_connection(('127.0.0.1', port), timeout=60)
    body = (b'hello world! ' * (size // 13 + 1))[:size]
    start = time.time()
    head = json.dumps({'data_size': len(body)}).encode()
    s.send(struct.pack('i', len(head)))
    s.send(head)
    s.sendall(body)
    head_size = struct.unpack('i', read_exact(s, 4))[0]
    head = json.loads(read_exact(s, head_size).decode())
    assert head.get('status') == 'ok', head
    reply = read_exact(s, head['data_size'])
    assert reply == body.upper(), 'reply of %d bytes differs' % len(reply)
    print('ok %d bytes in %.1f s' % (size, time.time() - start))


if __name__ == '__main__':
    main()
