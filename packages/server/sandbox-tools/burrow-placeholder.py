#!/usr/bin/env python3
"""Attenuate or inspect a burrow secret placeholder, offline, inside a sandbox.

A placeholder is `burrow_ph_` + a macaroon (libmacaroons v2, base64url). Adding a caveat only
narrows where the placeholder works; burrow's egress proxy checks every caveat.

  burrow-placeholder attenuate PLACEHOLDER|@FILE [--method GET,HEAD] [--path-prefix /v1/]
                     [--host api.example.com] [--ttl 10m] [--caveat 'key = value' ...]
  burrow-placeholder inspect PLACEHOLDER|@FILE
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import re
import sys

PREFIX = "burrow_ph_"


def b64decode(text):
    text = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def read_field(data, at):
    kind = data[at]
    at += 1
    if kind == 0:
        return kind, b"", at
    length, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return kind, data[at:at + length], at + length


def parse(text):
    if not text.startswith(PREFIX):
        sys.exit("burrow-placeholder: not a placeholder (it starts with %s)" % PREFIX)
    data = b64decode(text[len(PREFIX):])
    if data[0] != 2:
        sys.exit("burrow-placeholder: not a version 2 macaroon")
    at = 1
    location = b""
    kind, value, at = read_field(data, at)
    if kind == 1:
        location = value
        kind, value, at = read_field(data, at)
    identifier = value
    _, _, at = read_field(data, at)
    caveats = []
    while True:
        kind, value, at = read_field(data, at)
        if kind == 0:
            break
        if kind == 1:
            kind, value, at = read_field(data, at)
        caveats.append(value)
        kind, _, at = read_field(data, at)
        if kind != 0:
            sys.exit("burrow-placeholder: third-party caveats are not supported")
    kind, signature, at = read_field(data, at)
    if kind != 6 or len(signature) != 32:
        sys.exit("burrow-placeholder: no signature")
    return location, identifier, caveats, signature


def field(kind, value):
    out = bytearray([kind])
    n = len(value)
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out) + value


def serialize(location, identifier, caveats, signature):
    out = bytearray([2])
    if location:
        out += field(1, location)
    out += field(2, identifier) + b"\0"
    for caveat in caveats:
        out += field(2, caveat) + b"\0"
    out += b"\0" + field(6, signature)
    return PREFIX + base64.urlsafe_b64encode(bytes(out)).decode().rstrip("=")


def duration(text):
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    if not parts or not any(parts.groups()):
        sys.exit("burrow-placeholder: --ttl takes a duration like 10m or 1h30m")
    h, m, s = (int(g or 0) for g in parts.groups())
    return datetime.timedelta(hours=h, minutes=m, seconds=s)


def source(arg):
    if arg.startswith("@"):
        with open(arg[1:]) as f:
            return f.read().strip()
    return arg.strip()


def main():
    parser = argparse.ArgumentParser(prog="burrow-placeholder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    att = sub.add_parser("attenuate")
    att.add_argument("placeholder")
    att.add_argument("--method")
    att.add_argument("--path-prefix")
    att.add_argument("--host")
    att.add_argument("--ttl")
    att.add_argument("--caveat", action="append", default=[])
    ins = sub.add_parser("inspect")
    ins.add_argument("placeholder")
    args = parser.parse_args()

    location, identifier, caveats, signature = parse(source(args.placeholder))
    if args.command == "inspect":
        print("grant  %s" % identifier.decode())
        for caveat in caveats:
            print("       %s" % caveat.decode())
        return
    added = []
    if args.method:
        added.append("method = " + args.method.upper())
    if args.path_prefix:
        added.append("path-prefix = " + args.path_prefix)
    if args.host:
        added.append("host = " + args.host)
    if args.ttl:
        until = datetime.datetime.now(datetime.timezone.utc) + duration(args.ttl)
        added.append("expires = " + until.strftime("%Y-%m-%dT%H:%M:%SZ"))
    added += args.caveat
    for caveat in added:
        data = caveat.encode()
        signature = hmac.new(signature, data, hashlib.sha256).digest()
        caveats.append(data)
    print(serialize(location, identifier, caveats, signature))


if __name__ == "__main__":
    main()
