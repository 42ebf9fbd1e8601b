"""libzmq (pyzmq) peers for the proxy's interop tests.

usage:
  pypeer.py req ENDPOINT          REQ client: sends stdin's bytes, writes the reply bytes to stdout
  pypeer.py dealer ENDPOINT MODE  DEALER client: MODE "delim" sends [b"", payload], "bare" sends [payload];
                                  writes the reply frames as JSON (list of latin-1 strings) to stdout
  pypeer.py worker ENDPOINT       DEALER worker with the original vPoller framing: accepts exactly
                                  [id, b"", json] and answers [id, b"", reply]; prints "ready" then serves
                                  until stdin closes
"""
import json
import sys

import zmq

TIMEOUT_MS = 10000


def main():
    role, endpoint = sys.argv[1], sys.argv[2]
    ctx = zmq.Context()
    if role == "req":
        s = ctx.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(endpoint)
        s.send(sys.stdin.buffer.read())
        if not s.poll(TIMEOUT_MS):
            sys.exit("no reply")
        sys.stdout.buffer.write(s.recv())
    elif role == "dealer":
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(endpoint)
        payload = sys.stdin.buffer.read()
        frames = [b"", payload] if sys.argv[3] == "delim" else [payload]
        s.send_multipart(frames)
        if not s.poll(TIMEOUT_MS):
            sys.exit("no reply")
        print(json.dumps([f.decode("latin-1") for f in s.recv_multipart()]))
    elif role == "worker":
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(endpoint)
        poller = zmq.Poller()
        poller.register(s, zmq.POLLIN)
        print("ready", flush=True)
        stdin = sys.stdin.fileno()
        poller.register(stdin, zmq.POLLIN)
        while True:
            events = dict(poller.poll())
            if stdin in events:
                return
            if s in events:
                frames = s.recv_multipart()
                # The original worker unpacks exactly three frames.
                ident, empty, msg = frames
                try:
                    req = json.loads(msg)
                    reply = {"success": 0, "msg": "python worker", "result": [{"method": req.get("method"), "frames": len(frames), "empty": empty == b""}]}
                except ValueError:
                    reply = {"success": 1, "msg": "Invalid message received"}
                s.send_multipart([ident, b"", json.dumps(reply, ensure_ascii=False).encode()])
    else:
        sys.exit("unknown role " + role)


if __name__ == "__main__":
    main()
