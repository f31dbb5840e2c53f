"""Seed 001's greet session, framed: welcome, three names, then exit.

Usage: seed001_greet.py HOST PORT
Expects: the welcome frame (marked "welcome": true), 'Hello, <name>!' for each name, 'Bye!' for
exit, then the server closing the connection.
"""
import json
import socket
import struct
import sys


def recv_exact(s, n):
    data = b''
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise ConnectionError('closed mid-frame')
        data += chunk
    return data


def recv_frame(s):
    size = struct.unpack('i', recv_exact(s, 4))[0]
    head = json.loads(recv_exact(s, size).decode())
    return head, recv_exact(s, head['data_size']).decode('utf-8')


def send_frame(s, text, op='greet'):
    body = text.encode('utf-8')
    head = json.dumps({'data_size': len(body), 'op': op}).encode()
    s.send(struct.pack('i', len(head)) + head + body)


s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(20)
s.connect((sys.argv[1], int(sys.argv[2])))
head, text = recv_frame(s)
# SPEC: the welcome is marked, so a client tells it from a reply.
if head.get('welcome') is not True or head.get('status') != 'ok':
    sys.exit('the welcome frame is not marked: %r' % head)
print(text)
for name in ['Michael', 'Tracy', 'Sarah']:
    send_frame(s, name)
    print(recv_frame(s)[1])
send_frame(s, 'exit')
print(recv_frame(s)[1])
print('closed' if s.recv(1024) == b'' else 'still open')
s.close()
