"""Unpatched urllib in greenlets fetches one page at a time

Watch for: the three func greenlets do not overlap. Each one is blocked in
urlopen() until its page arrives (0.6 / 0.4 / 0.2 s), while the others sit
ready: the unpatched socket never gives the gevent hub a chance to switch. The
"http server" thread keeps serving in its own OS thread. cost time is about
1.2 s, the sum of the delays. Compare with crawler_gevent.
"""
import os
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import gevent
from urllib.request import urlopen
'''urlopen from urllib opens the web pages'''

# A stand-in for the internet: each page answers after its own delay.
PAGES = {
    "/alex3714/articles/5248247.html": (0.6, 91829),
    "/python.org/": (0.4, 48721),
    "/jd.com/": (0.2, 124072),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        delay, size = PAGES.get(self.path, (0, 0))
        time.sleep(delay)                                    # the "network" is slow
        body = (b"<html>" + b"x" * size)[:size]
        self.send_response(200 if size else 404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):                   # keep stderr quiet
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = False                                   # server_close() joins the handler threads


httpd = Server(("127.0.0.1", 0), Handler)
port = httpd.server_address[1]
http_thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                               name="http server")
http_thread.start()

tmpdir = tempfile.TemporaryDirectory()                       # instead of writing alex.html here


def func(url):
    print("\033[31m----------------------fetching pages concurrently---------------------------\033[0m")
    resp = urlopen(url)                                      # open a web page with urlopen
    data = resp.read()                                       # read the page's content
    with open(os.path.join(tmpdir.name, "alex.html"), 'wb') as f:
        f.write(data)
    print("%s bytes downloaded from %s." % (len(data), url))


try:
    start_time = time.time()
    gevent.joinall([
        gevent.spawn(func, "http://127.0.0.1:%d/alex3714/articles/5248247.html" % port),
        gevent.spawn(func, "http://127.0.0.1:%d/python.org/" % port),
        gevent.spawn(func, "http://127.0.0.1:%d/jd.com/" % port),
    ])
    end_time = time.time()
    cost_time = end_time - start_time
    print("cost time: %s" % cost_time)
finally:
    httpd.shutdown()
    httpd.server_close()
    http_thread.join()
    tmpdir.cleanup()

# For viz's verdict: the tasks that stand in for the world outside this program (plain python ignores this).
VIZ_HELPERS = ("http server",)
