#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# partial-check.py -- the partial-message forms of issue 9, read with
# Python's email package as a client would:
#   partial-check.py truncated FILE ORIG_SIZE
#       valid MIME; X-Email2-Partial names ORIG_SIZE; the last text/plain
#       part is the note: "incomplete", ORIG_SIZE, "--fetch-full"
#   partial-check.py omitted FILE NAME DECODED
#       valid MIME; iter_attachments() lists NAME as message/external-body
#       (access-type x-email2) whose Content-Disposition says
#       attachment; size=DECODED, phantom Content-Type keeps name=NAME, and
#       whose text says DECODED and "--fetch-full"
import email
import sys
from email import policy


def load(path):
    with open(path, "rb") as f:
        m = email.message_from_binary_file(f, policy=policy.default)
    for p in m.walk():
        assert not p.defects, (p.get_content_type(), p.defects)
    return m


def truncated(path, orig):
    m = load(path)
    assert m["X-Email2-Partial"] is not None, "no X-Email2-Partial"
    assert m["X-Email2-Partial"].startswith(orig + " bytes"), \
        m["X-Email2-Partial"]
    leaves = [p for p in m.walk() if not p.is_multipart()]
    last = leaves[-1]
    assert last.get_content_type() == "text/plain", last.get_content_type()
    assert last.get_content_disposition() in (None, "inline")
    text = last.get_content()
    for want in ("incomplete", " %s bytes" % orig, "--fetch-full"):
        assert want in text, "%r not in the note: %r" % (want, text)
    assert len(leaves) >= 2, "the note is the only part"


def omitted(path, name, decoded):
    m = load(path)
    atts = [a for a in m.iter_attachments() if a.get_filename() == name]
    assert atts, "not listed: %r" % [a.get_filename()
                                      for a in m.iter_attachments()]
    a = atts[0]
    assert a.get_content_type() == "message/external-body", \
        a.get_content_type()
    assert a.get_param("access-type") == "x-email2", a["Content-Type"]
    assert a.get_content_disposition() == "attachment"
    size = a["Content-Disposition"].params.get("size")
    assert size == decoded, "size=%s, want %s" % (size, decoded)
    phantom = a.get_payload()[0]
    assert phantom.get_param("name") == name, phantom["Content-Type"]
    assert phantom["Content-Disposition"].params.get("size") == decoded
    text = phantom.get_payload()
    for want in (decoded + " bytes", "--fetch-full", "KEEPMAX"):
        assert want in text, "%r not in the text: %r" % (want, text)


if __name__ == "__main__":
    {"truncated": truncated, "omitted": omitted}[sys.argv[1]](*sys.argv[2:])
