#!/usr/bin/env python3
"""Writes the seeds of fuzz_spool and fuzz_peer_request, whose inputs are
binary framings (see the harnesses' comments): spool segments in the record
format of agent/outbox/spool_record.c carrying events shaped like those of
docs/events.md, and peer request bodies shaped like peers_request_json's.
Run from the repository root; the output is deterministic."""
import json
import os
import struct


def crc32c(data, crc=0xFFFFFFFF):
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc


def record(seq, payload):
    # the CRC covers the length, the sequence number and the payload
    c = crc32c(struct.pack('<I', len(payload)))
    c = crc32c(struct.pack('<Q', seq), c)
    c = crc32c(payload, c) ^ 0xFFFFFFFF
    return struct.pack('<IIQ', len(payload), c, seq) + payload


def event(i, transition):
    return json.dumps({
        "issue": "checkout.upstream.timeout", "severity": "error", "active": True,
        "eventId": "6f1c3f0e-5d0b-4c61-9a43-0e2b5c1c7d%02d" % i, "transition": transition,
        "probe": "checkout", "step": "pay", "region": "eu-west", "agent": "edge-eu-1",
        "bucket": "upstream", "reason": "timeout"}, separators=(',', ':')).encode()


def spool_seed(cursor, flags, split, segment):
    return bytes([len(cursor), flags, split & 0xFF, split >> 8]) + cursor + segment


def spool_seeds():
    recs = [record(i, event(i, t)) for i, t in enumerate(["opened", "escalated", "resolved"], 1)]
    whole = b''.join(recs)
    torn = whole[:-7]
    damaged = bytearray(whole)
    damaged[len(recs[0]) + 20] ^= 0x40  # inside record 2's payload
    gap = recs[0] + record(3, event(3, "resolved"))
    return {
        "clean": spool_seed(b"", 0, 0, whole),
        "acked-one": spool_seed(b"1\n", 0, 0, whole),
        "torn-tail": spool_seed(b"2\n", 0, 0, torn),
        "damaged-middle": spool_seed(b"", 0, 0, bytes(damaged)),
        "out-of-sequence": spool_seed(b"", 0, 0, gap),
        "two-segments": spool_seed(b"1\n", 0x08 | 0x10, len(recs[0]), recs[0] + record(3, event(3, "resolved"))),
        "two-sinks": spool_seed(b"3\n", 0x80, 0, whole),
        "cursor-garbage": spool_seed(b"12x", 0, 0, whole),
        "cursor-ahead": spool_seed(b"99\n", 0, 0, whole),
        "empty": spool_seed(b"", 0, 0, b""),
    }


def peer_body(**kw):
    o = {"probe": "checkout", "ts": 1767225600, "nonce": "0c2d5b8e-8a7e-4f0e-b0a4-7f1b0f8a9e21",
         "region": "us-east", "agent": "us-1"}
    o.update(kw)
    o = {k: v for k, v in o.items() if v is not None}
    return json.dumps(o, separators=(',', ':')).encode()


def peer_seeds():
    fake_sig = b"sha256=" + b"0" * 64
    out = {}
    bodies = {
        "plain": peer_body(), "bound": peer_body(to="eu-1"), "other-agent": peer_body(to="us-1"),
        "stale": peer_body(ts=1767225000), "future": peer_body(ts=1767225661),
        "no-probe": peer_body(probe=None), "ts-string": peer_body(ts="1767225600"),
    }
    for name, b in bodies.items():
        out["signed-" + name] = bytes([1, 5, 0, 0x20]) + b          # body byte flipped
        out["signed-sig-" + name] = bytes([3, 30, 0, 0x01]) + b    # signature byte flipped
    out["outside-plain"] = bytes([0]) + fake_sig + bodies["plain"]
    out["outside-no-header"] = bytes([2]) + bodies["bound"]
    return out


def write(folder, seeds):
    os.makedirs(folder, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("tests/fuzz/seeds-spool", spool_seeds())
    write("tests/fuzz/seeds-peer_request", peer_seeds())
