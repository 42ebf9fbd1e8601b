"""A libzmq (pyzmq) DEALER for the PING tests of package zmtp.

dealer ENDPOINT [SERVER_PUB CLIENT_PUB CLIENT_SEC]
    Connects (with CURVE when the keys are given), prints "connected",
    sends b"hello", then answers every message m with b"ack:" + m until
    stdin closes. No heartbeat option is set: whatever answers a PING is
    libzmq itself, as in a Python vPoller worker.
"""
import os, sys, threading
import zmq

ctx = zmq.Context()
ep = sys.argv[2]
s = ctx.socket(zmq.DEALER)
if len(sys.argv) > 3:
    s.curve_serverkey = sys.argv[3].encode()
    s.curve_publickey = sys.argv[4].encode()
    s.curve_secretkey = sys.argv[5].encode()
s.setsockopt(zmq.LINGER, 0)
s.connect(ep)
print("connected", flush=True)
def stop():
    sys.stdin.read()
    os._exit(0)
threading.Thread(target=stop, daemon=True).start()
s.send(b"hello")
while True:
    m = s.recv()
    s.send(b"ack:" + m)
