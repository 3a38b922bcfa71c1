"""Files of a pinned npm package, checked against the registry's published integrity before use.

Shared by ``scripts/vendor-web`` (which vendors the pages' libraries into web/static/vendor/) and
``bench/map.py`` (which weighs the libraries folium's default page would fetch from CDNs). Only sha512
integrity (Subresource Integrity format) is accepted.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import urllib.parse
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"


class RegistryError(RuntimeError):
    """The registry could not be read, or a tarball failed its integrity check or lacks a file."""


def _fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read()
    except OSError as error:
        raise RegistryError(f"{url}: {error}") from error


def check_integrity(data: bytes, integrity: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise RegistryError(f"refusing integrity {integrity!r}: only sha512 is accepted")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise RegistryError(f"integrity mismatch: expected sha512-{expected}, got sha512-{actual}")


def tarball(name: str, version: str, cache: Path | None = None) -> tuple[bytes, str, str]:
    """The package's tarball (verified), its URL and its integrity; kept in ``cache`` if given."""
    meta = json.loads(_fetch(f"{REGISTRY}/{urllib.parse.quote(name, safe='@')}/{version}"))
    url, integrity = meta["dist"]["tarball"], meta["dist"]["integrity"]
    cached = cache / url.rsplit("/", 1)[1] if cache is not None else None
    data = cached.read_bytes() if cached is not None and cached.exists() else _fetch(url)
    check_integrity(data, integrity)
    if cached is not None and not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(data)
    return data, url, integrity


def package_files(name: str, version: str, files: list[str],
                  cache: Path | None = None) -> tuple[dict[str, bytes], str, str]:
    """The listed files (paths inside the tarball's ``package/`` folder) of ``name@version``, with the
    tarball's URL and integrity."""
    data, url, integrity = tarball(name, version, cache)
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for rel in files:
            try:
                member = archive.extractfile(f"package/{rel}")
            except KeyError:
                member = None
            if member is None:
                raise RegistryError(f"{name}@{version} has no file {rel}")
            out[rel] = member.read()
    return out, url, integrity
