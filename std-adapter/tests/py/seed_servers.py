"""Servers shaped like the seeds' (stdlib only: socket, struct, json),
for testing `jframe` the way a new user would meet them.

Usage: seed_servers.py MODE     (prints "listening on tcp 127.0.0.1:PORT")

Modes:
  oneshot   accept, read one frame, reply with its body upper-cased, close
            (the shape of seed 002's first framed servers), for ever
  push      accept, send one frame in the old `size` dialect and close,
            without reading anything (seed 002's first program)
  welcome   on connect send a welcome frame marked "welcome": true, then
            upper-case every frame until the client closes
  unmarked  the same with a welcome of {"data_size": 8} alone
  big       read one frame, reply with 1 MiB (byte i is i % 251) sent in
            1 KiB pieces, close
  counting  a ThreadingTCPServer that numbers every request it receives,
            over all connections: the reply to the n-th is "n:" + upper
"""
import json
import socket
import socketserver
import struct
import sys
import threading

from seed002_server import recv_exact


def read_frame(con):
    head_size = struct.unpack('i', recv_exact(con, 4))[0]
    head = json.loads(recv_exact(con, head_size).decode())
    size = head.get('data_size', head.get('size'))
    return head, recv_exact(con, size)


def write_frame(con, body, **keys):
    head = dict({'data_size': len(body)}, **keys)
    head_bytes = json.dumps(head).encode()
    con.sendall(struct.pack('i', len(head_bytes)) + head_bytes + body)


def oneshot(con):
    _, body = read_frame(con)
    write_frame(con, body.decode().upper().encode())


def push(con):
    s_bytes = 'Hello Client!'.encode()
    dic_bytes = json.dumps({'size': len(s_bytes)}).encode()
    # Three sends, as the seed writes them.
    con.send(struct.pack('i', len(dic_bytes)))
    con.send(dic_bytes)
    con.send(s_bytes)


def welcome(con, marked=True):
    if marked:
        write_frame(con, b'Welcome!', status='ok', welcome=True)
    else:
        write_frame(con, b'Welcome!')
    while True:
        try:
            _, body = read_frame(con)
        except (ConnectionError, OSError):
            return
        write_frame(con, body.decode().upper().encode())


BIG = bytes(i % 251 for i in range(1 << 20))


def big(con):
    read_frame(con)
    head = json.dumps({'data_size': len(BIG)}).encode()
    con.sendall(struct.pack('i', len(head)) + head)
    for at in range(0, len(BIG), 1024):
        con.sendall(BIG[at:at + 1024])


COUNT = 0
COUNT_LOCK = threading.Lock()


class Counting(socketserver.BaseRequestHandler):
    def handle(self):
        global COUNT
        while True:
            try:
                _, body = read_frame(self.request)
            except (ConnectionError, OSError, struct.error):
                return
            with COUNT_LOCK:
                COUNT += 1
                n = COUNT
            write_frame(self.request, ('%d:' % n).encode() + body.decode().upper().encode())


class Threading(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve_one_at_a_time(handle):
    soc = socket.socket()
    soc.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    soc.bind(('127.0.0.1', 0))
    soc.listen(5)
    print('listening on tcp 127.0.0.1:%d' % soc.getsockname()[1], flush=True)
    while True:
        conn, _ = soc.accept()
        try:
            handle(conn)
        except (ConnectionError, OSError, struct.error, ValueError):
            pass
        finally:
            conn.close()


def serve_threads(handle):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            try:
                handle(self.request)
            except (ConnectionError, OSError, struct.error, ValueError):
                pass
    s = Threading(('127.0.0.1', 0), Handler)
    print('listening on tcp 127.0.0.1:%d' % s.server_address[1], flush=True)
    s.serve_forever()


if __name__ == '__main__':
    mode = sys.argv[1]
    if mode == 'counting':
        s = Threading(('127.0.0.1', 0), Counting)
        print('listening on tcp 127.0.0.1:%d' % s.server_address[1], flush=True)
        s.serve_forever()
    elif mode == 'welcome':
        serve_threads(welcome)
    elif mode == 'unmarked':
        serve_threads(lambda con: welcome(con, marked=False))
    else:
        serve_one_at_a_time({'oneshot': oneshot, 'push': push, 'big': big}[mode])
