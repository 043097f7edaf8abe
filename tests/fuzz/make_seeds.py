#!/usr/bin/env python3
"""Writes the seeds of fuzz_spool and fuzz_peer_request, whose inputs are
binary framings (see the harnesses' comments), and of fuzz_dns_answer and
fuzz_grpc_frame, raw answers (DNS ones built with python3-dnspython): spool segments in the record
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


def dns_answer(qname, rdtype, rrs, tc=False):
    import dns.message
    import dns.rrset
    q = dns.message.make_query(qname, rdtype)
    q.id = 0x1234  # the output stays deterministic
    r = dns.message.make_response(q)
    for name, ttl, typ, datas in rrs:
        r.answer.append(dns.rrset.from_text_list(name, ttl, "IN", typ, datas))
    if tc:
        r.flags |= dns.flags.TC
    return r.to_wire()


def dns_seeds():
    import dns.flags  # noqa: F401 (used by dns_answer)
    out = {
        "a": dns_answer("api.example.com.", "A", [("api.example.com.", 300, "A", ["192.0.2.10", "192.0.2.11"])]),
        "aaaa": dns_answer("api.example.com.", "AAAA", [("api.example.com.", 300, "AAAA", ["2001:db8::1"])]),
        "mx": dns_answer("example.com.", "MX", [("example.com.", 3600, "MX", ["10 mx1.example.com.",
                                                                             "20 mx2.example.com."])]),
        "txt": dns_answer("example.com.", "TXT", [("example.com.", 60, "TXT",
                                                   ['"v=spf1 -all"', '"two" "strings\\010\\255"'])]),
        "srv": dns_answer("_https._tcp.example.com.", "SRV",
                          [("_https._tcp.example.com.", 60, "SRV", ["0 5 443 edge.example.com."])]),
        "cname-chain": dns_answer("www.example.com.", "A", [
            ("www.example.com.", 60, "CNAME", ["cdn.example.net."]),
            ("cdn.example.net.", 60, "CNAME", ["edge.cdn.example.net."]),
            ("edge.cdn.example.net.", 20, "A", ["198.51.100.7"])]),
        "soa-ns-ptr": dns_answer("example.com.", "SOA", [
            ("example.com.", 900, "SOA", ["ns1.example.com. hostmaster.example.com. 2026113001 7200 900 1209600 300"]),
            ("example.com.", 900, "NS", ["ns1.example.com."]),
            ("7.100.51.198.in-addr.arpa.", 900, "PTR", ["edge.cdn.example.net."])]),
        "unknown-type": dns_answer("example.com.", "TYPE4000", [("example.com.", 60, "TYPE4000", ["\\# 3 010203"])]),
    }
    out["nxdomain"] = bytearray(dns_answer("missing.example.com.", "A", []))
    out["nxdomain"][3] |= 3
    out["nxdomain"] = bytes(out["nxdomain"])
    full = dns_answer("api.example.com.", "A", [("api.example.com.", 300, "A", ["192.0.2.%d" % i for i in range(40)])])
    out["truncated"] = full[:len(full) // 2]
    out["tc-flag"] = dns_answer("api.example.com.", "A", [], tc=True)
    # an answer whose owner name points at itself, and two pointing at each other
    head = bytes.fromhex("123481800001000100000000") + b"\x03api\x07example\x03com\x00\x00\x01\x00\x01"
    out["compression-loop"] = head + b"\xc0\x1d" + bytes.fromhex("000100010000003c0004c0000201")
    out["compression-loop2"] = head + b"\xc0\x1f\xc0\x1d" + bytes.fromhex("000100010000003c0004c0000201")
    return out


def grpc_frame(msg, flag=0):
    return bytes([flag]) + struct.pack('>I', len(msg)) + msg


def grpc_seeds():
    return {
        "serving": grpc_frame(b"\x08\x01"), "not-serving": grpc_frame(b"\x08\x02"),
        "service-unknown": grpc_frame(b"\x08\x03"), "empty": grpc_frame(b""),
        "future-value": grpc_frame(b"\x08\x07"),
        "unknown-fields": grpc_frame(b"\x10\x96\x01\x1a\x02hi\x25\x01\x02\x03\x04\x08\x02"),
        "compressed": grpc_frame(b"\x08\x01", 1), "cut": grpc_frame(b"\x08\x01")[:4],
        "long-varint": grpc_frame(b"\x08" + b"\xff" * 9 + b"\x01"),
        "trailing": grpc_frame(b"\x08\x01") + b"\x00",
    }


def write(folder, seeds):
    os.makedirs(folder, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("tests/fuzz/seeds-spool", spool_seeds())
    write("tests/fuzz/seeds-peer_request", peer_seeds())
    write("tests/fuzz/seeds-grpc_frame", grpc_seeds())
    write("tests/fuzz/seeds-dns_answer", dns_seeds())
