"""What a phone does on the hotspot, run inside its network namespace by tests/hotspot.py.

Reads a JSON list of steps on standard input and prints what each one got, as JSON:
  {"url": "http://captive.apple.com/hotspot-detect.html", "agent": "..."}
      resolve the name with the system's resolver (the namespace's resolv.conf points at
      the hotspot's dnsmasq), send the GET, never follow a redirect;
  {"connect": "boite.lan", "port": 443}
      open a TCP connection and say how it ended (an HTTPS attempt);
  {"burst": "boite.lan", "port": 80, "count": 150, "patience": 0.5}
      open `count` TCP connections one after the other as fast as it can, each given up
      after `patience` seconds, and say how many opened, how many went unanswered and how
      many were refused (a phone hammering the box).
Redirects are not followed so the test sees each answer the phone's system sees.
"""

import http.client
import json
import socket
import sys
import time
from urllib.parse import urlsplit

FIRST_CONTACT_SECONDS = 20  # the app may still be starting when the phone joins


def resolve(host):
    return socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]


def fetch(url, agent):
    parts = urlsplit(url)
    address = resolve(parts.hostname)
    deadline = time.monotonic() + FIRST_CONTACT_SECONDS
    while True:
        connection = http.client.HTTPConnection(address, parts.port or 80, timeout=10)
        try:
            connection.request("GET", parts.path or "/", headers={
                "Host": parts.netloc, "User-Agent": agent, "Accept-Language": "fr-FR"})
            response = connection.getresponse()
            break
        except ConnectionRefusedError:
            connection.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    body = response.read().decode("utf-8", "replace")
    connection.close()
    return {"address": address, "status": response.status,
            "location": response.getheader("Location"), "body": body}


def connect(host, port):
    address = resolve(host)
    started = time.monotonic()
    try:
        socket.create_connection((address, port), timeout=10).close()
        outcome = "open"
    except ConnectionRefusedError:
        outcome = "refused"
    except OSError as error:
        outcome = type(error).__name__
    return {"address": address, "outcome": outcome, "seconds": time.monotonic() - started}


def burst(host, port, count, patience):
    address = resolve(host)
    outcomes = {"open": 0, "unanswered": 0, "refused": 0}
    opened = []
    for _ in range(count):
        try:
            opened.append(socket.create_connection((address, port), timeout=patience))
            outcomes["open"] += 1
        except ConnectionRefusedError:
            outcomes["refused"] += 1
        except TimeoutError:
            outcomes["unanswered"] += 1
    for sock in opened:
        sock.close()
    return outcomes


def main():
    answers = []
    for step in json.load(sys.stdin):
        if "url" in step:
            answers.append(fetch(step["url"], step.get("agent", "Mozilla/5.0")))
        elif "burst" in step:
            answers.append(burst(step["burst"], step["port"], step["count"],
                                 step["patience"]))
        else:
            answers.append(connect(step["connect"], step["port"]))
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
