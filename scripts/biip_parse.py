#!/usr/bin/env python3
"""Reads barcodes with biip (https://pypi.org/project/biip/), an independent GS1 parser.

Input on stdin: JSON Lines, one {"input": "..."} per line.

Default mode, one JSON line out per line in:
    {"ok": true, "error": null, "elements": [{"ai": "01", "value": "...",
     "date": "2027-01-31" | null, "datetime": "2027-01-31T23:59:00" | null,
     "check_error": null | "<why a GTIN, GLN or SSCC failed biip's check>"}, ...]}
or {"ok": false, "error": "<biip's message>", "elements": []} when biip could
not read a GS1 message. Used by crates/udi/tests/differential.rs.

--time: parses every input once to warm up, then times a loop over all of
them (time.perf_counter around the loop only: no start-up, no JSON) and prints
one line: {"count": N, "ok": K, "seconds": S, "rounds": R, "version": V}. Rounds repeat
until at least --min-seconds (default 1.0) have passed. Used by
`medledger bench barcode`.

Exit status 3 with a message on stderr when biip is not installed.
"""

import json
import sys
import time

try:
    import biip
except ImportError:
    sys.stderr.write(
        "biip is not installed for %s: run `make udi-diff` (it creates target/pyenv) "
        "or `pip install biip==5.2.0`\n" % sys.executable
    )
    sys.exit(3)


def read_inputs():
    inputs = []
    for line in sys.stdin:
        line = line.rstrip("\n")
        if line:
            inputs.append(json.loads(line)["input"])
    return inputs


def describe(value):
    try:
        result = biip.parse(value)
    except Exception as exc:  # biip.parse is documented not to raise; report it if it does
        return {"ok": False, "error": "exception: %r" % (exc,), "elements": []}
    message = result.gs1_message
    if message is None:
        return {"ok": False, "error": result.gs1_message_error or "not a GS1 message", "elements": []}
    elements = []
    for es in message.element_strings:
        elements.append(
            {
                "ai": es.ai.ai,
                "value": es.value,
                "date": es.date.isoformat() if es.date is not None else None,
                "datetime": es.datetime.isoformat() if es.datetime is not None else None,
                # biip's check-digit validation of GTINs (01, 02, 03), GLNs (41n) and SSCCs (00).
                "check_error": es.gtin_error or es.gln_error or es.sscc_error,
            }
        )
    return {"ok": True, "error": None, "elements": elements}


def timed(inputs, min_seconds):
    parse = biip.parse
    ok = 0
    for value in inputs:
        result = parse(value)
        if result.gs1_message is not None or result.gs1_digital_link_uri is not None:
            ok += 1
    rounds = 0
    elapsed = 0.0
    while rounds == 0 or elapsed < min_seconds:
        start = time.perf_counter()
        for value in inputs:
            parse(value)
        elapsed += time.perf_counter() - start
        rounds += 1
    return {
        "count": len(inputs) * rounds,
        "ok": ok,
        "seconds": elapsed,
        "rounds": rounds,
        "version": getattr(biip, "__version__", None),
    }


def main(argv):
    inputs = read_inputs()
    if "--time" in argv:
        min_seconds = 1.0
        if "--min-seconds" in argv:
            min_seconds = float(argv[argv.index("--min-seconds") + 1])
        print(json.dumps(timed(inputs, min_seconds)))
        return 0
    out = sys.stdout
    for value in inputs:
        out.write(json.dumps(describe(value)))
        out.write("\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
