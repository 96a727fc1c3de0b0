"""Asynchronous I/O: the loop reads, the task goes on working

Watch for: the main task asks asyncio's loop for the data (loop.sock_recv) and
does not wait for it: it goes on with its own work in small steps, running or
ready the whole time, while the client thread takes about 0.6 s to send. The
"read" task is asyncio's sock_recv: it tries recv() once, finds no data ("→ no
data yet (BlockingIOError)"), and is blocked on the socket's fd until the asyncio
loop sees it readable and does the recv() for it: both phases, the wait and the
copy, are done for the program (the copy in the loop's lane, a short run: "recv()
on fd N → 34 bytes"). Only then does the main task collect the bytes, already in it.
"""
import asyncio, socket, threading, time

DELAY = 0.6  # how long the client takes before it sends


def client(port):
    c = socket.create_connection(("127.0.0.1", port))
    time.sleep(DELAY)                                   # the data is not there yet
    c.sendall(b"hello from the client, after 0.6 s")
    time.sleep(0.1)
    c.close()


def some_work():
    end = time.perf_counter() + 0.01                    # 10 ms of the task's own work
    while time.perf_counter() < end:
        pass


async def main():
    loop = asyncio.get_running_loop()
    conn, addr = await loop.sock_accept(server)
    conn.setblocking(False)
    read = asyncio.create_task(loop.sock_recv(conn, 1024), name="read")   # the loop does the waiting
    steps = 0
    start = time.time()
    while not read.done():                              # meanwhile: other work, never blocked on the socket
        some_work()
        steps += 1
        await asyncio.sleep(0)                          # let the loop look at the socket
    data = await read                                   # the bytes are already in the program
    print("did %d steps of other work in %.2f s while the read waited" % (steps, time.time() - start))
    print("then got %d bytes: %r" % (len(data), data))
    conn.close()


server = socket.socket()
server.bind(("127.0.0.1", 0))                            # port 0: the system picks one
server.listen()
server.setblocking(False)
helper = threading.Thread(target=client, args=(server.getsockname()[1],), name="client")
helper.start()
asyncio.run(main())
helper.join()
server.close()

# For viz's verdict: the tasks that stand in for the world outside this program (plain python ignores this).
VIZ_HELPERS = ("client",)
