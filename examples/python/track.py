#!/usr/bin/env python3
"""Track one AI media generation with genwatch's HTTP API and print its
completion event, using nothing but Python's standard library.

    export GENWATCH_API_URL=http://127.0.0.1:8090
    export GENWATCH_API_TOKEN=...        # one of the worker's GENWATCH_API_TOKENS
    python3 track.py --provider hooked --id vid_abc123 --metadata '{"order": 42}'

It listens to genwatch's live event stream (GET /v1/events, server-sent
events), asks genwatch to track the generation (POST /v1/generations), and
prints the generation's completion event from the stream as one JSON line on
stdout; progress goes to stderr. A generation that had already ended (tracked
before) has its event read from GET /v1/generations/{provider}/{id}; so does
every generation when the server has no event stream (an older genwatch),
by asking for the state until it has ended. Exit codes: 0 the generation completed, 3 it ended otherwise (failed,
timed out, canceled) or the wait timed out, 2 genwatch refused the request,
1 any other error.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


class APIError(Exception):
    """An error answer of the API: {"error": {"code", "message"}}."""

    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class Genwatch:
    def __init__(self, base_url, token, timeout=30):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as e:
            try:
                err = json.load(e)["error"]
            except (ValueError, KeyError, TypeError):
                err = {"code": "http_error", "message": e.reason}
            raise APIError(e.code, err["code"], err["message"]) from None

    def track(self, request):
        """Tracks one request (a dict: provider, generation_id, ...) and
        returns {"task_id", "already_tracked"}."""
        return self._call("POST", "/v1/generations", request)

    def status(self, provider, generation_id):
        # A generation ID is one path segment: "/" must travel as %2F.
        path = "/v1/generations/%s/%s" % (
            urllib.parse.quote(provider, safe=""),
            urllib.parse.quote(generation_id, safe=""),
        )
        return self._call("GET", path)

    def events(self, provider=None, read_timeout=60):
        """Opens the live event stream and returns an EventStream, already
        connected: events that end after this call are in it. Raises
        APIError 404 when the server has no event stream."""
        path = "/v1/events"
        if provider:
            path += "?" + urllib.parse.urlencode({"provider": provider})
        req = urllib.request.Request(self.base_url + path)
        req.add_header("Authorization", "Bearer " + self.token)
        req.add_header("Accept", "text/event-stream")
        try:
            resp = urllib.request.urlopen(req, timeout=read_timeout)
        except urllib.error.HTTPError as e:
            try:
                err = json.load(e)["error"]
            except (ValueError, KeyError, TypeError):
                err = {"code": "http_error", "message": e.reason}
            raise APIError(e.code, err["code"], err["message"]) from None
        return EventStream(resp)

    def wait(self, provider, generation_id, timeout, interval=1.0, on_change=None):
        """Returns the generation's completion event once it has ended, or
        None when timeout seconds pass first."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            g = self.status(provider, generation_id)
            if g["state"] == "ended":
                return g["event"]
            seen = (g.get("polls"), g.get("progress"), g.get("provider_status"))
            if on_change and seen != last:
                on_change(g)
                last = seen
            if time.monotonic() + interval > deadline:
                return None
            time.sleep(interval)


class EventStream:
    """The messages of a text/event-stream answer: iterate over it for
    (entry id, event type, event dict), and (None, None, None) for each
    heartbeat; close it when done."""

    def __init__(self, resp):
        self.resp = resp

    def __iter__(self):
        entry_id, event_type, data = None, None, []
        for raw in self.resp:
            line = raw.decode("utf-8").rstrip("\r\n")
            if not line:  # a blank line ends a message
                if data:
                    yield entry_id, event_type, json.loads("\n".join(data))
                entry_id, event_type, data = None, None, []
                continue
            if line.startswith(":"):  # a comment: heartbeat
                yield None, None, None
                continue
            field, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if field == "id":
                entry_id = value
            elif field == "event":
                event_type = value
            elif field == "data":
                data.append(value)

    def close(self):
        self.resp.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def wait_for_event(gw, stream, provider, generation_id, timeout):
    """Returns the generation's event: from its state if it has already
    ended, else from the stream. None when timeout seconds pass first."""
    deadline = time.monotonic() + timeout
    g = gw.status(provider, generation_id)
    if g["state"] == "ended":
        return g["event"]
    for entry_id, _, event in stream:
        if event and event.get("provider") == provider and event.get("generation_id") == generation_id:
            print(f"  event {entry_id} from /v1/events", file=sys.stderr)
            return event
        if time.monotonic() > deadline:
            return None
    return None


def main(argv=None):
    p = argparse.ArgumentParser(description="Track a generation with genwatch and print its event.")
    p.add_argument("--api", default=os.environ.get("GENWATCH_API_URL", "http://127.0.0.1:8090"),
                   help="genwatch API URL (default $GENWATCH_API_URL or http://127.0.0.1:8090)")
    p.add_argument("--provider", required=True, help="hoox, hooked or token360")
    p.add_argument("--id", required=True, help="the provider's generation ID")
    p.add_argument("--account", default="", help="configured account of the provider (default: default)")
    p.add_argument("--metadata", default="", help="JSON object copied into the event")
    p.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the event")
    args = p.parse_args(argv)

    token = os.environ.get("GENWATCH_API_TOKEN", "")
    if not token:
        print("track.py: set GENWATCH_API_TOKEN to one of the worker's API tokens", file=sys.stderr)
        return 2
    request = {"provider": args.provider, "generation_id": args.id}
    if args.account:
        request["account"] = args.account
    if args.metadata:
        try:
            request["metadata"] = json.loads(args.metadata)
        except ValueError as e:
            print(f"track.py: --metadata is not JSON: {e}", file=sys.stderr)
            return 2

    gw = Genwatch(args.api, token)
    stream = None
    try:
        try:
            # Listen first, so that the event cannot end before we do.
            stream = gw.events(provider=args.provider)
        except APIError as e:
            if e.status != 404:
                raise
        res = gw.track(request)
        note = " (already tracked)" if res["already_tracked"] else ""
        print(f"tracking {res['task_id']}{note}", file=sys.stderr)

        if stream is not None:
            with stream:
                event = wait_for_event(gw, stream, args.provider, args.id, args.timeout)
        else:
            def show(g):
                progress = "" if g.get("progress") is None else f", {g['progress']}%"
                print(f"  waiting: {g.get('provider_status') or 'not polled yet'}{progress}, {g['polls']} polls",
                      file=sys.stderr)

            event = gw.wait(args.provider, args.id, args.timeout, on_change=show)
    except APIError as e:
        print(f"track.py: {e}", file=sys.stderr)
        return 2 if e.status == 400 else 1
    except (urllib.error.URLError, OSError) as e:
        print(f"track.py: cannot reach genwatch at {args.api}: {e}", file=sys.stderr)
        return 1

    if event is None:
        print(f"track.py: no event after {args.timeout:g} s", file=sys.stderr)
        return 3
    print(json.dumps(event))
    print(f"{event['type']} after {event['polls']} polls", file=sys.stderr)
    return 0 if event["status"] == "completed" else 3


if __name__ == "__main__":
    sys.exit(main())
