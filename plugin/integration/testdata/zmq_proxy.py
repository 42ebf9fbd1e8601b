#!/usr/bin/env python3
# The original vPoller proxy's core, with libzmq (Debian python3-zmq):
# ROUTER frontend for clients, DEALER backend for workers, zmq.proxy between.
import sys
import zmq

ctx = zmq.Context()
frontend = ctx.socket(zmq.ROUTER)
frontend.bind(sys.argv[1])
backend = ctx.socket(zmq.DEALER)
backend.bind(sys.argv[2])
print("ready", flush=True)
zmq.proxy(frontend, backend)
