"""Seed 002's socketserver.ThreadingTCPServer upper-casing server, framed
with struct.pack('i') + a json header (recv_exact fixes the seed's
short-read bug; replies carry {"data_size": n} only, as the seed writes).

Usage: seed002_server.py [PORT]   (prints "listening on tcp 127.0.0.1:PORT")
"""
import json
import socket
import socketserver
import struct
import sys


def recv_exact(con: socket.socket, n: int) -> bytes:
    data = b''
    while len(data) < n:
        chunk = con.recv(n - len(data))
        if not chunk:
            raise ConnectionError('closed')
        data += chunk
    return data


def read_data(con: socket.socket) -> str:
    head_size = struct.unpack('i', recv_exact(con, 4))[0]
    head_dic = json.loads(recv_exact(con, head_size).decode())
    data_size = head_dic.get('data_size')
    return recv_exact(con, data_size).decode()


def write_data(con: socket.socket, data: str):
    body = data.encode()
    data_hred = json.dumps({'data_size': len(body)}).encode()
    con.sendall(struct.pack('i', len(data_hred)) + data_hred + body)


class MyTcp(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            try:
                data = read_data(self.request)
            except (ConnectionError, OSError):
                return
            write_data(self.request, data.upper())


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


if __name__ == '__main__':
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    s = Server(('127.0.0.1', port), MyTcp)
    print('listening on tcp 127.0.0.1:%d' % s.server_address[1], flush=True)
    s.serve_forever()
