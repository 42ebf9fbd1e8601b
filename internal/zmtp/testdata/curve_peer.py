"""A libzmq (pyzmq) CURVE peer for the interop tests of package zmtp.

client ENDPOINT SERVER_PUB CLIENT_PUB CLIENT_SEC HEARTBEAT_MS
    REQ client: sends b"hello" and a 100 kB payload, prints each reply's
    length and first bytes; with HEARTBEAT_MS > 0 it enables libzmq
    heartbeats (PING every HEARTBEAT_MS, drop after 3x without PONG),
    waits 10 intervals and sends once more. Exit 3 on a receive timeout.
server SERVER_SEC
    ROUTER CURVE server on a free loopback port; prints the endpoint,
    then echoes each message with b"echo:" before the payload, until
    stdin closes.
"""
import sys, threading, time, os
import zmq

ctx = zmq.Context()
mode = sys.argv[1]
if mode == "client":
    ep, spub, cpub, csec, hb = sys.argv[2:7]
    s = ctx.socket(zmq.REQ)
    s.curve_serverkey = spub.encode()
    s.curve_publickey = cpub.encode()
    s.curve_secretkey = csec.encode()
    hb = int(hb)
    if hb > 0:
        s.setsockopt(zmq.HEARTBEAT_IVL, hb)
        s.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3 * hb)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, 4000)
    s.connect(ep)
    payloads = [b"hello", b"p" * 100000]
    if hb > 0:
        payloads.append(b"after heartbeats")
    for i, p in enumerate(payloads):
        if hb > 0 and i == 2:
            time.sleep(10 * hb / 1000.0)
        s.send(p)
        try:
            r = s.recv()
        except zmq.Again:
            print("timeout", flush=True)
            sys.exit(3)
        print(len(r), r[:12].decode(), flush=True)
elif mode == "server":
    ssec = sys.argv[2]
    s = ctx.socket(zmq.ROUTER)
    s.curve_server = True
    s.curve_secretkey = ssec.encode()
    port = s.bind_to_random_port("tcp://127.0.0.1")
    print("tcp://127.0.0.1:%d" % port, flush=True)
    def stop():
        sys.stdin.read()
        os._exit(0)
    threading.Thread(target=stop, daemon=True).start()
    while True:
        frames = s.recv_multipart()
        s.send_multipart(frames[:-1] + [b"echo:" + frames[-1]])
