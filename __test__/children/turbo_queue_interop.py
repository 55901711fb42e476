"""Turbo Queue itself (the PyPI package), writing or reading a queue that scouter-queue reads or wrote.

usage: turbo_queue_interop.py enqueue <root> <name> <count>   writes {"n": i} for i < count, all batches ready
       turbo_queue_interop.py dequeue <root> <name>           prints every record of every ready batch as a JSON line
"""
import json
import sys

import turbo_queue

mode, root, name = sys.argv[1:4]

if mode == "enqueue":
    queue = turbo_queue.Enqueue()
    queue.root_path = root
    queue.queue_name = name
    queue.max_events_per_file = 100
    queue.start()
    for i in range(int(sys.argv[4])):
        queue.add({"n": i})
    queue._roll_next_batch()  # the last partial batch: Turbo Queue rolls it only by age, from an event loop
    queue._close_db()  # the empty load batch it opened after the roll
elif mode == "dequeue":
    queue = turbo_queue.Dequeue()
    queue.root_path = root
    queue.queue_name = name
    while queue.get_next_ready_file():
        for record in queue.get():
            if record is None:
                break
            print(json.dumps(record, separators=(",", ":")))
