"""Switch-heavy asyncio workload: N tasks each awaiting asyncio.sleep(0) M times. Prints `work_s=<seconds>`."""
import asyncio
import os
import sys
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
M = int(sys.argv[2]) if len(sys.argv) > 2 else 200


async def worker():
    for _ in range(M):
        await asyncio.sleep(0)


async def main():
    await asyncio.gather(*[worker() for _ in range(N)])


t0 = time.perf_counter()
asyncio.run(main())
os.write(2, f"work_s={time.perf_counter() - t0:.6f}\n".encode())  # fd 2: not captured as output
