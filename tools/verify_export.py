#!/usr/bin/env python3
"""Verify a Sluse audit export (JSON Lines) without Sluse: an independent re-implementation of
docs/audit-format.md.

    python3 tools/verify_export.py audit.jsonl [--checkpoints checkpoints.json]

Exit 0 and print `ok <records> <head_hash>` if the chain holds; exit 1 and print
`bad <seq> <problem>` at the first record that does not. With --checkpoints, the chain must pass
through every checkpoint in the file; signatures are checked too when the `cryptography` package
is installed (otherwise the script says it skipped them).
"""

import base64
import hashlib
import json
import struct
import sys

RECORD_TAG = "sluse.audit.record.v1"
CHECKPOINT_TAG = "sluse.audit.checkpoint.v1"
GENESIS = "0" * 64


def u64(n):
    return struct.pack(">Q", n)


def s(text):
    b = text.encode("utf-8")
    return u64(len(b)) + b


def opt(text):
    return b"\x00" if text is None else b"\x01" + s(text)


def strings(items):
    return u64(len(items)) + b"".join(s(i) for i in items)


def canonical(r):
    out = s(RECORD_TAG) + u64(r["seq"]) + s(r["disclosure_id"]) + s(r["at"])
    q = r["requester"]
    out += s(q["sub"]) + s(q["dept"]) + s(q["role"])
    out += opt(r["subject_pseudonym"]) + s(r["category"]) + s(r["purpose"])
    out += opt(r["source"]) + opt(r["recipient"]) + s(r["decision"]) + s(r["outcome"])
    basis = r["basis"]
    out += b"\x00" if basis is None else b"\x01" + s(basis["kind"]) + s(basis["id"])
    out += u64(len(r["reasons"])) + b"".join(s(x["code"]) + s(x["message"]) for x in r["reasons"])
    out += strings(r["fields_disclosed"]) + strings(r["fields_redacted"])
    out += opt(r["payload_digest"]) + s(r["policy_version"])
    return out


def checkpoint_message(c):
    return (s(CHECKPOINT_TAG) + u64(c["seq"]) + bytes.fromhex(c["head_hash"]) + s(c["at"])
            + s(c["key_id"]))


def check_signatures(cps, keys):
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        print("note: `cryptography` not installed; checkpoint signatures not checked", file=sys.stderr)
        return None
    for c in cps:
        key = keys.get(c["key_id"])
        if key is None:
            return (c["seq"], "checkpoint signed by unknown key")
        try:
            Ed25519PublicKey.from_public_bytes(base64.b64decode(key)).verify(
                base64.b64decode(c["signature"]), checkpoint_message(c))
        except Exception:
            return (c["seq"], "checkpoint signature is not valid")
    return None


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--checkpoints"):
        print(__doc__, file=sys.stderr)
        return 2
    cps = {}
    bad = None
    if len(argv) == 4:
        with open(argv[3], encoding="utf-8") as f:
            doc = json.load(f)
        keys = {k["key_id"]: k["public_key"] for k in doc["public_keys"]}
        bad = check_signatures(doc["checkpoints"], keys)
        for c in doc["checkpoints"]:
            cps.setdefault(c["seq"], []).append(c["head_hash"])

    prev, expected = GENESIS, 1
    with open(argv[1], encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            seq = r["seq"]
            problem = None
            if seq != expected:
                problem, seq = "record missing before seq %d" % r["seq"], expected
            elif r["prev_hash"] != prev:
                problem = "prev_hash does not match the previous record's hash"
            elif hashlib.sha256(bytes.fromhex(prev) + canonical(r)).hexdigest() != r["hash"]:
                problem = "hash does not match the record's contents"
            elif any(h != r["hash"] for h in cps.pop(seq, [])):
                problem = "hash differs from a signed checkpoint"
            if problem and (bad is None or seq < bad[0]):
                bad = (seq, problem)
            if bad and bad[0] <= seq:
                break
            prev, expected = r["hash"], r["seq"] + 1
    if bad is None and cps:
        bad = (expected, "chain ends before a signed checkpoint at seq %d" % min(cps))
    if bad:
        print("bad %d %s" % bad)
        return 1
    print("ok %d %s" % (expected - 1, prev))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
