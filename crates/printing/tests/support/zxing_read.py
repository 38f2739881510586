"""Decodes every barcode in grayscale PGM images with zxing-cpp (PyPI
`zxing-cpp`), a decoder no one here wrote, for crates/printing/tests/readback.rs.

Usage: python zxing_read.py IMAGE.pgm ...
Prints one JSON object per image: {"image", "barcodes": [{"format",
"symbology", "content_type", "bytes_hex"}]}. Bytes are the decoded data as
transmitted (GS1 separators as GS, 0x1D); the symbology identifier (]d2,
]C1 …) says whether the symbol was flagged as GS1 by its FNC1.
"""

import json
import sys

import zxingcpp


def read_pgm(path):
    with open(path, "rb") as f:
        data = f.read()
    fields = []
    at = 0
    # Header: P5, width, height, maxval, separated by whitespace (comments start with #).
    while len(fields) < 4:
        while data[at:at + 1].isspace():
            at += 1
        if data[at:at + 1] == b"#":
            at = data.index(b"\n", at) + 1
            continue
        start = at
        while not data[at:at + 1].isspace():
            at += 1
        fields.append(data[start:at])
    if fields[0] != b"P5" or int(fields[3]) > 255:
        raise SystemExit(f"{path}: not an 8-bit binary PGM")
    width, height = int(fields[1]), int(fields[2])
    pixels = data[at + 1:at + 1 + width * height]
    return memoryview(pixels).cast("B", (height, width))


def main():
    for path in sys.argv[1:]:
        image = read_pgm(path)
        found = zxingcpp.read_barcodes(image, text_mode=zxingcpp.TextMode.Plain)
        print(json.dumps({
            "image": path,
            "barcodes": [
                {
                    "format": str(b.format).split(".")[-1],
                    "symbology": b.symbology_identifier,
                    "content_type": str(b.content_type).split(".")[-1],
                    "bytes_hex": bytes(b.bytes).hex(),
                }
                for b in found
            ],
        }))


if __name__ == "__main__":
    main()
