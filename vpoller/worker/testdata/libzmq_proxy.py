"""An ordinary vPoller proxy (libzmq zmq.proxy(ROUTER, DEALER), as the
original py-vpoller proxy) with a Python REQ client in front of it.

Usage: libzmq_proxy.py FRONTEND_PORT BACKEND_PORT
Reads one JSON request per stdin line, sends each through the proxy with a
REQ socket (10 s timeout) and prints each reply as a Python bytes repr,
one per line. Exits when stdin ends.
"""
import sys
import threading

import zmq

front_port, back_port = sys.argv[1], sys.argv[2]
ctx = zmq.Context()
frontend = ctx.socket(zmq.ROUTER)
frontend.bind("tcp://127.0.0.1:%s" % front_port)
backend = ctx.socket(zmq.DEALER)
backend.bind("tcp://127.0.0.1:%s" % back_port)


def run_proxy():
    try:
        zmq.proxy(frontend, backend)
    except zmq.ContextTerminated:
        pass
    finally:
        frontend.close(linger=0)
        backend.close(linger=0)


threading.Thread(target=run_proxy, daemon=True).start()
print("ready", flush=True)

client = ctx.socket(zmq.REQ)
client.setsockopt(zmq.LINGER, 0)
client.connect("tcp://127.0.0.1:%s" % front_port)
poller = zmq.Poller()
poller.register(client, zmq.POLLIN)
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    client.send_string(line)
    if not poller.poll(10000):
        print("TIMEOUT", flush=True)
        break
    print(repr(client.recv_multipart()), flush=True)
client.close(linger=0)
ctx.term()
