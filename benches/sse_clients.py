#!/usr/bin/env python3
"""Event-stream clients for benches/events.sh (standard library only).

    sse_clients.py --addr HOST:PORT --tokens FILE [--probe TOKEN CONV] --ready FILE --stop FILE
                   [--phase FILE]

Opens one `GET /parlor/v1/events` stream per token in FILE (one token per line) and reads them
until the file --stop appears, counting the events each receives. With --probe, one more stream
is opened as the probe user, who also sends a message into CONV every --probe-every seconds and
times each one from the send's acknowledgement (the whole response read) to its
`message.created` event arriving on the probe's stream; each latency is filed under the word
in the --phase file at that moment (e.g. "idle", "load"). The file `--ready` is written once
every stream has answered its head and its opening comment, so the caller starts the load only
then.

Prints one JSON object: streams opened, streams that ended early (a server that cut off a slow
client, or an error), events received, and the probe's latencies in milliseconds by phase.
"""

import argparse
import asyncio
import json
import os
import time

STOP = asyncio.Event()


async def watch_stop(path):
    while not os.path.exists(path):
        await asyncio.sleep(0.2)
    STOP.set()


def phase_of(path):
    try:
        with open(path) as f:
            return f.read().strip() or "idle"
    except OSError:
        return "idle"


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


async def open_stream(host, port, token):
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
    writer.write(
        (
            "GET /parlor/v1/events HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    if status != b"200":
        raise RuntimeError(f"stream answered {status.decode()}: {head[:200]!r}")
    return reader, writer


class Counter:
    """A stream that only counts its events: the raw bytes are scanned, never decoded, so that
    a hundred of them cost the load generator's core as little as possible."""

    def __init__(self):
        self.events = 0
        self.ended_early = False
        self.opened = asyncio.Event()

    async def run(self, host, port, token):
        reader, writer = await open_stream(host, port, token)
        tail = b""
        try:
            while not STOP.is_set():
                try:
                    chunk = await asyncio.wait_for(reader.read(1 << 16), 0.5)
                except asyncio.TimeoutError:
                    continue
                if not chunk:
                    self.ended_early = True
                    return
                data = tail + chunk
                if not self.opened.is_set() and b": stream open" in data:
                    self.opened.set()
                self.events += data.count(b"\nevent: ") - tail.count(b"\nevent: ")
                tail = data[-8:]
        finally:
            writer.close()


class Probe:
    """The probe user's stream, decoded (chunked transfer, then SSE frames), and its sends."""

    def __init__(self):
        self.arrived = {}  # message id -> monotonic time its event arrived
        self.waiters = {}
        self.opened = asyncio.Event()
        self.latencies = {}  # phase -> [ms]
        self.before_ack = 0
        self.ended_early = False

    async def listen(self, host, port, token):
        reader, writer = await open_stream(host, port, token)
        buf = b""
        try:
            while True:
                size_line = await reader.readline()
                if not size_line:
                    self.ended_early = True
                    return
                size = int(size_line.strip() or b"0", 16)
                if size == 0:
                    self.ended_early = True
                    return
                buf += await reader.readexactly(size)
                await reader.readexactly(2)
                while b"\n\n" in buf:
                    frame, buf = buf.split(b"\n\n", 1)
                    self.on_frame(frame)
        except asyncio.CancelledError:
            pass
        finally:
            writer.close()

    def on_frame(self, frame):
        if frame.startswith(b": stream open"):
            self.opened.set()
        kind, data = None, None
        for line in frame.split(b"\n"):
            if line.startswith(b"event: "):
                kind = line[7:]
            elif line.startswith(b"data: "):
                data = line[6:]
        if kind == b"message.created" and data:
            mid = json.loads(data).get("message_id")
            now = time.monotonic()
            self.arrived[mid] = now
            waiter = self.waiters.pop(mid, None)
            if waiter and not waiter.done():
                waiter.set_result(now)

    async def send(self, host, port, token, conv, every, phase_file):
        reader, writer = await asyncio.open_connection(host, port)
        body = b'{"body":"probe: how long until the stream hears of me?"}'
        request = (
            f"POST /parlor/v1/conversations/{conv}/messages HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        try:
            while not STOP.is_set():
                writer.write(request)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                answer = await reader.readexactly(length)
                acked = time.monotonic()
                if not head.startswith(b"HTTP/1.1 201") and not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"probe send answered {head[:40]!r}")
                mid = json.loads(answer)["id"]
                arrived = self.arrived.pop(mid, None)
                if arrived is None:
                    waiter = asyncio.get_running_loop().create_future()
                    self.waiters[mid] = waiter
                    try:
                        arrived = await asyncio.wait_for(waiter, 30)
                    except asyncio.TimeoutError:
                        raise RuntimeError(f"no event for message {mid} within 30 s")
                if arrived < acked:
                    self.before_ack += 1
                phase = phase_of(phase_file) if phase_file else "idle"
                self.latencies.setdefault(phase, []).append(max(0.0, arrived - acked) * 1000)
                await asyncio.sleep(every)
        finally:
            writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--probe", nargs=2, metavar=("TOKEN", "CONV"))
    ap.add_argument("--probe-every", type=float, default=0.05)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--stop", required=True)
    ap.add_argument("--phase")
    args = ap.parse_args()
    host, port = args.addr.rsplit(":", 1)
    port = int(port)
    with open(args.tokens) as f:
        tokens = [line.strip() for line in f if line.strip()]

    stopper = asyncio.create_task(watch_stop(args.stop))
    counters = [Counter() for _ in tokens]
    tasks = [asyncio.create_task(c.run(host, port, t)) for c, t in zip(counters, tokens)]
    probe = Probe() if args.probe else None
    waits = [c.opened.wait() for c in counters]
    if probe:
        listener = asyncio.create_task(probe.listen(host, port, args.probe[0]))
        waits.append(probe.opened.wait())
    await asyncio.wait_for(asyncio.gather(*waits), 30)
    with open(args.ready, "w") as f:
        f.write("ready\n")
    if probe:
        await probe.send(host, port, args.probe[0], args.probe[1], args.probe_every, args.phase)
        listener.cancel()
    await asyncio.gather(*tasks)
    await stopper

    summary = {
        "streams": len(counters),
        "ended_early": sum(c.ended_early for c in counters),
        "events": sum(c.events for c in counters),
        "probe_event_before_ack": probe.before_ack if probe else 0,
    }
    for phase, values in sorted((probe.latencies if probe else {}).items()):
        values.sort()
        summary[phase] = {
            "sends": len(values),
            "p50_ms": round(percentile(values, 50), 2),
            "p99_ms": round(percentile(values, 99), 2),
            "max_ms": round(values[-1], 2),
        }
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
