"""One artifact file of an MLflow run, read for the artifact viewer.

A person opens an artifact to glance at it (a config, a log, a metrics file, a plot), so the
viewer reads small files only: a file is downloaded when it is at most `DOWNLOAD_CAP` (2 MiB);
text shows its first `TEXT_SHOWN` (256 KiB), decoded as UTF-8 with replacement; a PNG, JPEG or
GIF shows its format and dimensions, read from its header (the terminal draws no picture, and
over SSH there is no system viewer to hand it to); a file whose name says it is binary (a
pickle, a checkpoint, an archive) is never downloaded and shows its size.

Over HTTP the file comes from the tracking server's `get-artifact` endpoint (the one MLflow's
own web UI uses: it works for proxied `mlflow-artifacts:` roots and for any store the server
reaches) through `adapters.mlflow`'s transport: the same whole-response deadline and watchdog,
credentials and TLS settings, with the download cap as its size limit, so an announced
Content-Length over the cap is refused before a byte of the body is read. The embedded store
(`sqlite:`/`file:`) reads through `MlflowClient.download_artifacts`, after checking the size.

Errors are `SourceError`s whose message a person can act on; the text is returned raw (the
viewer passes it through `text.clean`).
"""

from __future__ import annotations

import os
import struct
import tempfile
from dataclasses import dataclass
from typing import Any

from mlopstui.adapters import SourceError
from mlopstui.adapters.mlflow import MlflowSource
from mlopstui.text import clean, first_line

DOWNLOAD_CAP = 2 << 20
"""The largest artifact file downloaded for viewing."""
TEXT_SHOWN = 256 << 10
"""How much of a text file the viewer shows."""
SNIFF = 8 << 10
"""How much of a file of unknown type is looked at to tell text from binary."""

IMAGE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".gif": "GIF"}
BINARY_SUFFIXES = frozenset(
    [
        ".pkl",
        ".pickle",
        ".joblib",
        ".pt",
        ".pth",
        ".ckpt",
        ".bin",
        ".safetensors",
        ".onnx",
        ".pb",
        ".tflite",
        ".h5",
        ".hdf5",
        ".keras",
        ".npy",
        ".npz",
        ".parquet",
        ".feather",
        ".arrow",
        ".avro",
        ".orc",
        ".zip",
        ".gz",
        ".tgz",
        ".tar",
        ".bz2",
        ".xz",
        ".zst",
        ".7z",
        ".whl",
        ".so",
        ".dll",
        ".dylib",
        ".exe",
        ".db",
        ".sqlite",
        ".pdf",
        ".bmp",
        ".webp",
        ".tif",
        ".tiff",
        ".mp4",
        ".wav",
        ".mp3",
    ]
)


@dataclass(frozen=True)
class ArtifactFile:
    """What the viewer shows of one artifact file.

    `kind` is "text", "image" or "binary"; `text` holds the decoded text (its first
    `TEXT_SHOWN` bytes; `truncated` says whether there was more); `image` the format, width
    and height when the header could be read; `size` the file's size in bytes when known.
    """

    path: str
    kind: str
    size: int | None
    text: str = ""
    truncated: bool = False
    image: tuple[str, int, int] | None = None
    note: str = ""


def kind_of(path: str) -> str:
    """ "image", "binary" or "text" (to be confirmed by the bytes), from the file's name."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    return "binary" if suffix in BINARY_SUFFIXES else "text"


def human_size(n: int | None) -> str:
    """A byte count as a person reads it ("512 B", "20.0 KiB", "3.1 MiB")."""
    if n is None:
        return "size unknown"
    if n < 1024:
        return f"{n} B"
    if n < 1 << 20:
        return f"{n / 1024:.1f} KiB"
    if n < 1 << 30:
        return f"{n / (1 << 20):.1f} MiB"
    return f"{n / (1 << 30):.1f} GiB"


def read_artifact(
    client: MlflowSource, run_id: str, path: str, *, size: int | None = None
) -> ArtifactFile:
    """Read `path` of run `run_id` for viewing; `size` is the listing's size, when known.

    A binary file, or any file over `DOWNLOAD_CAP`, is described without being downloaded.
    """
    kind = kind_of(path)
    if kind == "binary":
        return ArtifactFile(path, "binary", size, note="binary file: not shown")
    if size is not None and size > DOWNLOAD_CAP:
        return ArtifactFile(
            path,
            kind,
            size,
            note=f"too large to show here (the viewer reads files up to {human_size(DOWNLOAD_CAP)})",
        )
    data = _download(client, run_id, path)
    return describe(path, data)


def describe(path: str, data: bytes) -> ArtifactFile:
    """What the viewer shows of a file's bytes (its name decides images; its bytes text)."""
    size = len(data)
    if kind_of(path) == "image":
        found = image_header(data)
        note = "" if found else "not a PNG, JPEG or GIF its header can be read from"
        return ArtifactFile(path, "image", size, image=found, note=note)
    head = data[:SNIFF]
    if b"\x00" in head or _mostly_undecodable(head):
        return ArtifactFile(path, "binary", size, note="binary content: not shown")
    shown = data[:TEXT_SHOWN]
    return ArtifactFile(
        path,
        "text",
        size,
        text=shown.decode("utf-8", "replace"),
        truncated=size > TEXT_SHOWN,
    )


def _mostly_undecodable(head: bytes) -> bool:
    """More than one byte in ten outside UTF-8 (a cut multi-byte character at the end is not)."""
    decoded = head.decode("utf-8", "replace")
    return decoded.count("\ufffd") > max(2, len(head) // 10)


def image_header(data: bytes) -> tuple[str, int, int] | None:
    """(format, width, height) from a PNG, GIF or JPEG header; None when it is none of them."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "PNG", width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return "GIF", width, height
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


# JPEG start-of-frame markers (baseline, progressive, ...): not DHT (C4), JPG (C8) or DAC (CC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[str, int, int] | None:
    """Walk the JPEG segments to the first start-of-frame, which holds the dimensions."""
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _SOF and i + 9 <= len(data):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return "JPEG", width, height
        i += 2 + length
    return None


# ---------------------------------------------------------------- downloads


def _download(client: MlflowSource, run_id: str, path: str) -> bytes:
    if client.is_http:
        return _download_http(client, run_id, path)
    return _download_embedded(client, run_id, path)


def _download_http(client: MlflowSource, run_id: str, path: str) -> bytes:
    """GET get-artifact through the client's transport (deadline, retries, errors), refusing
    more than `DOWNLOAD_CAP`."""
    shown = clean(path, limit=120)

    def too_big(announced: int | None) -> str:
        size = f" ({human_size(announced)})" if announced is not None else ""
        return (
            f"artifact {shown} is larger than the viewer reads{size}; "
            f"the limit is {human_size(DOWNLOAD_CAP)}"
        )

    return client.download(
        "/get-artifact",
        {"run_id": run_id, "path": path},
        DOWNLOAD_CAP,
        what=f"artifact {shown}",
        too_big=too_big,
    )


def _download_embedded(client: MlflowSource, run_id: str, path: str) -> bytes:
    """The embedded store keeps artifacts on a path this machine reads: copy, check, read."""
    mlflow_client: Any = client.client()
    shown = clean(path, limit=120)
    with tempfile.TemporaryDirectory(prefix="mlopstui-artifact-") as tmp:
        try:
            local = mlflow_client.download_artifacts(run_id, path, tmp)
        except Exception as exc:  # MLflow raises its own and OSError alike: one sentence
            raise SourceError(
                f"{client.uri} could not read artifact {shown}: {clean(first_line(exc))}"
            ) from None
        if os.path.isdir(local):
            raise SourceError(f"artifact {shown} is a directory, not a file")
        size = os.path.getsize(local)
        if size > DOWNLOAD_CAP:
            raise SourceError(
                f"artifact {shown} is larger than the viewer reads ({human_size(size)}); "
                f"the limit is {human_size(DOWNLOAD_CAP)}"
            )
        with open(local, "rb") as fh:
            return fh.read(DOWNLOAD_CAP + 1)
