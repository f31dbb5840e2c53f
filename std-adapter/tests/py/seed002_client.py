"""Seed 002's framed client (struct.pack('i') + json header), against jframe.

Usage: seed002_client.py HOST PORT MESSAGE...
Sends every message (pipelined, as the seed's loop would if it wrote ahead),
then prints each reply body on its own line. recv_exact fixes the seed's
short-read bug (recv(n) may return fewer than n bytes).
"""
import json
import socket
import struct
import sys


def recv_exact(con: socket.socket, n: int) -> bytes:
    data = b''
    while len(data) < n:
        chunk = con.recv(n - len(data))
        if not chunk:
            raise ConnectionError('server closed mid-frame')
        data += chunk
    return data


def read_data(con: socket.socket) -> dict:
    head_size = struct.unpack('i', recv_exact(con, 4))[0]
    head_dic = json.loads(recv_exact(con, head_size).decode())
    data_size = head_dic.get('data_size')
    head_dic['body'] = recv_exact(con, data_size).decode()
    return head_dic


def write_data(con: socket.socket, data: str):
    data_size = len(data.encode())
    data_hred = json.dumps({'data_size': data_size}).encode()
    con.send(struct.pack('i', len(data_hred)))
    con.send(data_hred)
    con.send(data.encode())


if __name__ == '__main__':
    s = socket.socket()
    s.settimeout(20)
    s.connect((sys.argv[1], int(sys.argv[2])))
    for m in sys.argv[3:]:
        write_data(s, m)
    for _ in sys.argv[3:]:
        reply = read_data(s)
        if reply.get('status') != 'ok':
            print('bad status', reply, file=sys.stderr)
            sys.exit(1)
        print(reply['body'])
    s.close()
