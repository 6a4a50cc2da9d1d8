#!/usr/bin/env python3
"""The client host's agent: runs ``tests.multihost.ops`` functions.

Started by ``harness.Agent`` inside the client host's namespace, so every
connection it makes leaves from that host. It reads one JSON call per
line on stdin (``{"id", "fn", "args", "kwargs"}``), runs each in a
thread of its own and writes one JSON answer per line (``{"id", "ok",
"result"}`` or ``{"id", "ok": false, "error"}``) on its original stdout;
anything else printed goes to stderr. It ends when stdin closes.
"""
import json
import os
import sys
import threading
import traceback

from tests.multihost import ops


def main() -> None:
    """Serve calls until stdin closes."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr
    lock = threading.Lock()

    def answer(message: dict) -> None:
        """Write one answer line."""
        with lock:
            out.write(json.dumps(message) + "\n")
            out.flush()

    def serve(call: dict) -> None:
        """Run one call and answer it."""
        try:
            result = getattr(ops, call["fn"])(*call["args"],
                                              **call["kwargs"])
            answer({"id": call["id"], "ok": True, "result": result})
        except BaseException:  # noqa: BLE001 - sent back to the test
            answer({"id": call["id"], "ok": False,
                    "error": traceback.format_exc()})

    for line in sys.stdin:
        threading.Thread(target=serve, args=(json.loads(line),),
                         daemon=True).start()
    ops.shutdown()


if __name__ == "__main__":
    main()
