"""Reference for the ingest benchmark: Python feedparser parsing every
news-replay snapshot (parse only, from bytes). Prints {"MB/s": ..., ...}."""

import json
import sys
import time
from pathlib import Path

import feedparser

root = Path(sys.argv[1])
bodies = [p.read_bytes() for p in sorted(root.glob("*/*/*.xml"))]
total = sum(len(b) for b in bodies)
start = time.perf_counter()
items = 0
for body in bodies:
    items += len(feedparser.parse(body).entries)
secs = time.perf_counter() - start
print(json.dumps({"MB/s": total / 1e6 / secs, "items/s": items / secs, "files": len(bodies), "seconds": secs}))
