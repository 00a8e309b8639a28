"""Fetch Mermaid's browser bundle for the Mermaid tests, pinned by version and hash.

The tests draw gradviz's Mermaid output with Mermaid itself, in headless Chromium. Mermaid is
not shipped with gradviz (3.5 MB): this script downloads the npm package once, checks the
tarball against npm's published integrity and the extracted ``dist/mermaid.min.js`` against a
pinned SHA-256, and keeps it in a cache folder (``$GRADVIZ_CACHE``, default
``~/.cache/gradviz``). Tests that need it skip cleanly when it is missing.

Usage: python scripts/fetch_mermaid.py      (prints the path; exit 1 when it cannot fetch)
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

VERSION = "11.17.2"
TARBALL = f"https://registry.npmjs.org/mermaid/-/mermaid-{VERSION}.tgz"
INTEGRITY = (  # npm's `dist.integrity` for this version
    "sha512-V6K3C8EBdEsPFZXSKMJe6ppQOENxuHARr9GvHX4hh47lAbhMRD9qf4oEK7LoaRQxULMa80/qt5gHO73aCleBBg=="
)
SHA256 = "581ed7d74bd9048d0e3a91363927d72ef22942d7722546b27f7cc29e35390eb8"  # dist/mermaid.min.js
MEMBER = "package/dist/mermaid.min.js"


def cached_path() -> Path:
    """Where the checked ``mermaid.min.js`` is kept."""
    root = os.environ.get("GRADVIZ_CACHE") or Path.home() / ".cache" / "gradviz"
    return Path(root) / f"mermaid-{VERSION}" / "mermaid.min.js"


def is_valid(path: Path) -> bool:
    """``path`` exists and has the pinned SHA-256."""
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == SHA256


def fetch(timeout: float = 60) -> Path:
    """The path of the checked bundle, downloading it first when needed."""
    path = cached_path()
    if is_valid(path):
        return path
    with urllib.request.urlopen(TARBALL, timeout=timeout) as response:
        tarball = response.read()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if digest != INTEGRITY:
        raise RuntimeError(f"{TARBALL}: integrity {digest} is not the pinned {INTEGRITY}")
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        member = archive.extractfile(MEMBER)
        if member is None:
            raise RuntimeError(f"{TARBALL}: no {MEMBER}")
        data = member.read()
    if hashlib.sha256(data).hexdigest() != SHA256:
        raise RuntimeError(f"{MEMBER}: SHA-256 is not the pinned {SHA256}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, path)  # atomic: a test never reads half a file
    return path


def main() -> int:
    try:
        print(fetch())
    except (OSError, RuntimeError) as exc:
        print(f"could not fetch mermaid {VERSION}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
