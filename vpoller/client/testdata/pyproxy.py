# Plays the original Python vPoller proxy + worker with libzmq (pyzmq): a
# ROUTER frontend that answers each request the way the worker does, i.e.
# json.loads of the frame, presence check of the keys, json.dumps reply
# with ensure_ascii=False. The czabbix helper's reply ends in a NUL, as the
# original's does. Prints the port it bound, then serves until killed.
import json
import sys

import zmq

ctx = zmq.Context()
sock = ctx.socket(zmq.ROUTER)
sock.setsockopt(zmq.LINGER, 0)
port = sock.bind_to_random_port("tcp://127.0.0.1")
print(port, flush=True)

while True:
    frames = sock.recv_multipart()
    if len(frames) != 3 or frames[1] != b"":
        sys.stderr.write("bad envelope: %r\n" % (frames,))
        continue
    identity, _, payload = frames
    try:
        msg = json.loads(payload.decode("utf-8"))
    except ValueError:
        reply = json.dumps({"success": 1, "msg": "Invalid message received"})
    else:
        if msg.get("helper") == "vpoller.helpers.czabbix":
            reply = "poweredOn\x00"
        else:
            reply = json.dumps(
                {"success": 0, "msg": "Successfully retrieved object properties",
                 "result": [{"keys": list(msg.keys()), "name": msg.get("name"),
                             "properties": msg.get("properties")}]},
                ensure_ascii=False)
    sock.send_multipart([identity, b"", reply.encode("utf-8")])
