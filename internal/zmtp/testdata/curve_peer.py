"""A libzmq (pyzmq) CURVE peer for the interop tests of package zmtp.

client ENDPOINT SERVER_PUB CLIENT_PUB CLIENT_SEC HEARTBEAT_MS
    REQ client: sends b"hello" and a 100 kB payload, prints each reply's
    length and first bytes; with HEARTBEAT_MS > 0 it enables libzmq
    heartbeats (PING every HEARTBEAT_MS, drop after 3x without PONG),
    waits 10 intervals and sends once more. Exit 3 on a receive timeout.
client-auth ENDPOINT SERVER_PUB CLIENT_PUB CLIENT_SEC
    REQ client with a socket monitor: prints the first handshake event
    libzmq reports ("event HANDSHAKE_SUCCEEDED 0",
    "event HANDSHAKE_FAILED_AUTH 400", ...); after a success it also
    sends b"hello" and prints the reply ("reply hello"). Exit 3 when no
    handshake event comes within 10 s.
server SERVER_SEC
    ROUTER CURVE server on a free loopback port; prints the endpoint,
    then echoes each message with b"echo:" before the payload, until
    stdin closes.
server-zap SERVER_SEC ALLOW_DIR
    The same, with libzmq's ZAP authenticator (zmq.auth) allowing only
    the public certificates (*.key) of ALLOW_DIR, and a socket monitor:
    prints each handshake event as "event NAME VALUE".
"""
import sys, threading, time, os
import zmq
from zmq.utils.monitor import recv_monitor_message

ctx = zmq.Context()
mode = sys.argv[1]
EVENTS = {getattr(zmq, n): n[len("EVENT_"):] for n in dir(zmq)
          if n.startswith("EVENT_HANDSHAKE")}


def handshake_event(mon, timeout_ms):
    """The next handshake event of a monitor socket, or None."""
    poller = zmq.Poller()
    poller.register(mon, zmq.POLLIN)
    deadline = time.monotonic() + timeout_ms / 1000.0
    while True:
        left = int((deadline - time.monotonic()) * 1000)
        if left <= 0 or not poller.poll(left):
            return None
        ev = recv_monitor_message(mon)
        if ev["event"] in EVENTS:
            return ev


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
elif mode == "client-auth":
    ep, spub, cpub, csec = sys.argv[2:6]
    s = ctx.socket(zmq.REQ)
    s.curve_serverkey = spub.encode()
    s.curve_publickey = cpub.encode()
    s.curve_secretkey = csec.encode()
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, 10000)
    mon = s.get_monitor_socket()
    s.connect(ep)
    ev = handshake_event(mon, 10000)
    if ev is None:
        print("timeout", flush=True)
        sys.exit(3)
    print("event", EVENTS[ev["event"]], ev["value"], flush=True)
    if ev["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
        s.send(b"hello")
        print("reply", s.recv().decode(), flush=True)
    os._exit(0)
elif mode in ("server", "server-zap"):
    ssec = sys.argv[2]
    if mode == "server-zap":
        from zmq.auth.thread import ThreadAuthenticator
        auth = ThreadAuthenticator(ctx)
        auth.start()
        auth.configure_curve(domain="*", location=sys.argv[3])
    s = ctx.socket(zmq.ROUTER)
    s.curve_server = True
    s.curve_secretkey = ssec.encode()
    mon = s.get_monitor_socket() if mode == "server-zap" else None
    port = s.bind_to_random_port("tcp://127.0.0.1")
    print("tcp://127.0.0.1:%d" % port, flush=True)

    def stop():
        sys.stdin.read()
        os._exit(0)
    threading.Thread(target=stop, daemon=True).start()
    poller = zmq.Poller()
    poller.register(s, zmq.POLLIN)
    if mon is not None:
        poller.register(mon, zmq.POLLIN)
    while True:
        for sock, _ in poller.poll():
            if sock is mon:
                ev = recv_monitor_message(mon)
                if ev["event"] in EVENTS:
                    print("event", EVENTS[ev["event"]], ev["value"], flush=True)
            else:
                frames = s.recv_multipart()
                s.send_multipart(frames[:-1] + [b"echo:" + frames[-1]])
