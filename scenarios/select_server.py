"""select.select(): one thread serves every client

Watch for: the main thread is the whole server. It is blocked in select.select()
until some socket is readable, runs briefly to accept or to echo in upper case,
and then is blocked again. It never spins. Each accepted connection gets its own
lane, blocked until select reports it readable. The "client 1/2/3" threads
mostly sleep between messages. The server stops once all three have disconnected.
"""
'''A select server is written much like a plain socket server, but it uses non-blocking I/O multiplexing'''
import socket, select, threading, time
# select watches which connection is active: if it is server, a new connection is coming in; if it is a conn, that conn has data to receive

N_CLIENTS = 3


def client(n):
    time.sleep((0.1, 0.3, 0.5)[n - 1])                      # staggered start
    client = socket.socket()
    client.connect((IP, PORT))
    for mess in ("hello from client %d" % n, "bye from client %d" % n):
        client.send(mess.encode("utf-8"))
        data = client.recv(1024)
        print("client %d received reply: %s" % (n, data.decode("utf-8")))
        time.sleep(0.35)
    client.close()


server = socket.socket()
IP, PORT = "127.0.0.1", 0
server.bind((IP, PORT))
PORT = server.getsockname()[1]                              # the port the system picked
server.listen()
server.setblocking(False)                                   # non-blocking
inputs = [server, ]                                         # the connections for the kernel to watch
# inputs=[server, conn]: each new connection is added so select watches it too
outputs = []

threads = [threading.Thread(target=client, args=(i,), name=f"client {i}") for i in range(1, N_CLIENTS + 1)]
for t in threads:
    t.start()

start_time = time.time()
closed = 0
flag = True
while flag:            # keep watching for new connections and for activity
    readable, writeable, exceptional = select.select(inputs, outputs, inputs)   # the kernel watches the connections
    print(readable, writeable, exceptional)
    for r in readable:
        if r is server:   # a new connection came in
            conn, addr = server.accept()                    # only accept() now: the socket is non-blocking
            print(conn, addr)
            inputs.append(conn)     # it has not sent anything yet, so let select watch it until it does
        else:
            data = r.recv(1024)
            if not data:            # the client left: forget this connection, keep serving the others
                print("client disconnected, closing", r)
                inputs.remove(r)
                r.close()
                closed += 1
                if closed == N_CLIENTS:
                    flag = False
                continue
            print("received data", data.decode("utf-8"))
            r.send(data.upper())
    for e in exceptional:
        inputs.remove(e)
        e.close()

for t in threads:
    t.join()
server.close()
print("served %d clients in %.2f s" % (closed, time.time() - start_time))

# For viz's verdict: the tasks that stand in for the world outside this program (plain python ignores this).
VIZ_HELPERS = ("client *",)
