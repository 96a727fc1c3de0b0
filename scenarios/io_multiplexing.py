"""I/O multiplexing: one select() waits on several sockets

Watch for: the main thread accepts three connections from the client thread and
then is blocked in a single select() over every socket it serves (the listening
one and the three connections): one wait for them all. The client sends on its
connections one after another, about 0.3 s apart. Each time select() returns the
connection that became readable, that connection's lane goes from blocked to
ready, and its recv() only copies the bytes already there ("recv() on fd N → 21
bytes"). The server stops once the client has closed all three.
"""
import socket, select, threading, time

N_CONNECTIONS = 3


def client():
    socks = [socket.create_connection((IP, PORT)) for _ in range(N_CONNECTIONS)]
    for n in (2, 1, 3):                                 # not in the order they connected
        time.sleep(0.3)
        socks[n - 1].sendall(b"hello on connection %d" % n)
    time.sleep(0.2)
    for s in socks:
        s.close()


server = socket.socket()
IP, PORT = "127.0.0.1", 0
server.bind((IP, PORT))
PORT = server.getsockname()[1]                          # the port the system picked
server.listen()
server.setblocking(False)                               # accept() only when select() says a client is there
helper = threading.Thread(target=client, name="client")
helper.start()

inputs = [server]                                       # every socket select() watches
closed = 0
while closed < N_CONNECTIONS:
    readable, _, _ = select.select(inputs, [], [])      # one wait for all of them
    for r in readable:
        if r is server:
            conn, addr = server.accept()
            print("new connection from", addr)
            inputs.append(conn)
            continue
        data = r.recv(1024)                             # select() said the data is there: this only copies it
        if data:
            print("fd %d: %r" % (r.fileno(), data))
        else:
            print("fd %d: the client closed it" % r.fileno())
            inputs.remove(r)
            r.close()
            closed += 1
helper.join()
server.close()

# For viz's verdict: the tasks that stand in for the world outside this program (plain python ignores this).
VIZ_HELPERS = ("client",)
