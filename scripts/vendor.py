"""Fetch the explorer's layout library into graphviz_autograd/renderers/static/, checked by hash.

    .venv/bin/python scripts/vendor.py          # fetch (only when the file is missing or differs)
    .venv/bin/python scripts/vendor.py --check  # verify the committed file, no network

The HTML explorer inlines Graphviz compiled to WebAssembly: npm ``@viz-js/viz`` (MIT; Graphviz
and Expat inside, their notices in the file's header), file ``dist/viz-global.js``, which has
the WebAssembly embedded and defines ``Viz`` globally. The version and both hashes are pinned
here; change them together, on purpose. The npm tarball carries no LICENSE file: the licence
text beside the vendored file is the one of the repository (mdaines/viz-js).
"""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

VERSION = "3.31.0"
TARBALL = f"https://registry.npmjs.org/@viz-js/viz/-/viz-{VERSION}.tgz"
TARBALL_SHA256 = "7dc0189874849cca2fed7cbe88bf334cd0e6e012db16657794a812ad6f2b8c70"
MEMBER = "package/dist/viz-global.js"
FILE_SHA256 = "c9e0b310f9883910e01c66054b48b7ff4be3d8695141116635e72b0af152692e"
TARGET = Path(__file__).resolve().parent.parent / "graphviz_autograd/renderers/static/viz-global.js"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> int:
    if TARGET.exists() and sha256(TARGET.read_bytes()) == FILE_SHA256:
        print(f"{TARGET.name} is @viz-js/viz {VERSION} (sha256 {FILE_SHA256[:12]}…)")
        return 0
    if "--check" in sys.argv:
        print(f"{TARGET} is missing or differs from @viz-js/viz {VERSION}", file=sys.stderr)
        return 1
    with urllib.request.urlopen(TARBALL, timeout=60) as response:
        tarball = response.read()
    if sha256(tarball) != TARBALL_SHA256:
        print(f"{TARBALL}: sha256 {sha256(tarball)}, expected {TARBALL_SHA256}", file=sys.stderr)
        return 1
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        member = archive.extractfile(MEMBER)
        assert member is not None, MEMBER
        data = member.read()
    if sha256(data) != FILE_SHA256:
        print(f"{MEMBER}: sha256 {sha256(data)}, expected {FILE_SHA256}", file=sys.stderr)
        return 1
    TARGET.write_bytes(data)
    print(f"wrote {TARGET} ({len(data):,} bytes, @viz-js/viz {VERSION})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
