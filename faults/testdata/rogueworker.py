"""A rogue vPoller worker for the fault suite (python3-zmq, libzmq).

usage: rogueworker.py ENDPOINT

A DEALER connected to the proxy's backend that reads every request and
never replies (libzmq still answers the proxy's PINGs, so the proxy sees
a live worker). It prints "ready" once connected and a count per request,
and lives at most LIFETIME seconds.
"""
import sys
import time

import zmq

LIFETIME = 300


def main():
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(sys.argv[1])
    print("ready", flush=True)
    end = time.monotonic() + LIFETIME
    n = 0
    while time.monotonic() < end:
        if sock.poll(1000):
            sock.recv_multipart()
            n += 1
            print("kept request %d unanswered" % n, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
