"""A seed-002-style framed client (struct.pack('i') + json.dumps header),
with the reads made exact, driven against host-sim's forwarded port.

usage: seed002_client.py PORT [HOST]   -> prints "ok N" or exits non-zero
(HOST defaults to 127.0.0.1).
"""
import json
import socket
import struct
import sys


def read_exact(con, n):
    data = b''
    while len(data) < n:
        chunk = con.recv(min(n - len(data), 65536))
        if not chunk:
            raise EOFError('peer closed after %d of %d bytes' % (len(data), n))
        data += chunk
    return data


def read_data(con):
    head_size = struct.unpack('i', read_exact(con, 4))[0]
    head = json.loads(read_exact(con, head_size).decode())
    return head, read_exact(con, head['data_size'])


def write_data(con, data, **keys):
    head = {'data_size': len(data)}
    head.update(keys)
    head = json.dumps(head).encode()
    con.send(struct.pack('i', len(head)))
    con.send(head)
    con.sendall(data)


def main():
    port = int(sys.argv[1])
    host = sys.argv[2] if len(sys.argv) > 2 else '127.0.0.1'
    s = socket.create_connection((host, port), timeout=60)
    checks = 0
    for i in range(20):
        text = ('hello world! %d ' % i) * (i * 50)
        write_data(s, text.encode())
        head, body = read_data(s)
        assert head.get('status') == 'ok', head
        assert body.decode() == text.upper(), (i, len(body))
        checks += 1
    write_data(s, b'Alice', op='greet')
    head, body = read_data(s)
    assert body == b'Hello, Alice!', body
    checks += 1
    write_data(s, b'x', op='nope')
    head, _ = read_data(s)
    assert head['status'] == 'bad_request', head
    checks += 1
    blob = bytes(range(256)) * 300
    write_data(s, blob, op='echo')
    head, body = read_data(s)
    assert body == blob, 'echo of %d bytes differs' % len(blob)
    checks += 1
    write_data(s, b'exit', op='greet')
    head, body = read_data(s)
    assert body == b'Bye!', body
    assert s.recv(16) == b'', 'server must close after Bye!'
    checks += 1
    print('ok', checks)


if __name__ == '__main__':
    main()
