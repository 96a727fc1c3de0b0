"""Stand-in for the recorder child: writes saved raw event bytes to the event pipe as fast as the pipe takes them.

    python replay_events.py WFD FILE

FILE holds the bytes a real recorder child wrote to its event pipe during one run (frames of marshalled event
batches, ending with the child's exit event), saved by bench/live.py --program replay. Writing them costs almost
nothing, so the viewer reading them is measured on its own: how many records per second the app can take in while
its keys stay quick, however fast the traced program could produce them. Nothing else is run or imported.
"""
import os
import sys

CHUNK = 1 << 16

fd = int(sys.argv[1])
with open(sys.argv[2], "rb") as f:
    data = f.read()
view = memoryview(data)
pos = 0
while pos < len(view):
    pos += os.write(fd, view[pos:pos + CHUNK])
os.close(fd)
