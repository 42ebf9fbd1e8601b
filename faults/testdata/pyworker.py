"""A Python vPoller worker for the fault suite (python3-zmq, libzmq).

usage: pyworker.py ENDPOINT NAME MARKER

A DEALER connected to the proxy's backend with the original worker's
framing: it accepts [id][""][json] and answers [id][""][reply]. Like the
original worker meeting a property it could not serialise (a datetime),
it dies (exit status 3) on any request that contains MARKER. It prints
"ready" once connected and serves for at most LIFETIME seconds.
"""
import json
import os
import sys
import time

import zmq

LIFETIME = 300


def main():
    endpoint, name, marker = sys.argv[1], sys.argv[2], sys.argv[3].encode()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    print("ready", flush=True)
    end = time.monotonic() + LIFETIME
    while time.monotonic() < end:
        if not sock.poll(1000):
            continue
        frames = sock.recv_multipart()
        if len(frames) != 3 or frames[1] != b"":
            sys.stderr.write("bad envelope: %r\n" % (frames,))
            continue
        ident, _, msg = frames
        if marker in msg:
            sys.stderr.write("%s: poison request, dying\n" % name)
            sys.stderr.flush()
            os._exit(3)
        try:
            req = json.loads(msg.decode("utf-8"))
            reply = {"success": 0, "msg": "pyworker " + name,
                     "result": [{"worker": name, "method": req.get("method")}]}
        except ValueError:
            reply = {"success": 1, "msg": "Invalid message received"}
        sock.send_multipart([ident, b"", json.dumps(reply).encode("utf-8")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
