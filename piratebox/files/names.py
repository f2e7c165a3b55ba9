"""What a shared file is called and what it contains, never trusted as sent.

A name is only ever displayed and put in a Content-Disposition header: the content lives
under its hash, so no name can reach the disk as a path. A file is previewed in the
browser only when its first bytes say it is one of a few passive formats.
"""

import mimetypes

from piratebox.text import clean_line

MAX_NAME = 200
MAX_FOLDER = 60
MAX_EXTENSION = 16
FALLBACK_NAME = "fichier"

# Names Windows refuses for a file, with any extension: a villager must be able to save
# what they download.
RESERVED_NAMES = {"con", "prn", "aux", "nul"} | {
    f"{device}{n}" for device in ("com", "lpt") for n in range(1, 10)
}

# Types a browser may show inline under a sandbox; anything else is only downloaded.
PREVIEW_SIGNATURES = [
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"OggS", "audio/ogg"),
    (0, b"fLaC", "audio/flac"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
    (4, b"ftypM4A", "audio/mp4"),
    (4, b"ftyp", "video/mp4"),
]
RIFF_TYPES = {b"WEBP": "image/webp", b"WAVE": "audio/wav"}
PREVIEW_TYPES = frozenset(media_type for _offset, _signature, media_type in PREVIEW_SIGNATURES
                          ) | frozenset(RIFF_TYPES.values())

# Types a browser would run or render as a page even in a download: sent as plain bytes.
ACTIVE_TYPES = {"text/html", "application/xhtml+xml", "image/svg+xml", "text/xml",
                "application/xml", "text/javascript", "application/javascript"}


def _clean(raw, limit):
    """The shared character rule (piratebox.text), then no dots or spaces at the ends:
    Windows drops them, and a leading dot hides a file."""
    return clean_line(raw).strip(" .")[:limit].strip(" .")


def clean_name(raw):
    """A display name from what a browser sent: last path part, printable, not too long."""
    text = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _clean(text, MAX_NAME * 4)
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > MAX_EXTENSION:
        stem, extension = name, ""
    if stem.split(".")[0].lower() in RESERVED_NAMES:
        stem = "_" + stem
    suffix = f".{extension}" if extension else ""
    stem = stem[: MAX_NAME - len(suffix)].rstrip(" .")
    return (stem + suffix) if stem else FALLBACK_NAME + suffix


def clean_folder(raw):
    """One level of folder, chosen at upload: a name without slashes, or "" for none."""
    return _clean((raw or "").replace("/", " ").replace("\\", " "), MAX_FOLDER)


def sniff(head):
    """The previewable type the first bytes prove, or "" (download only)."""
    for offset, signature, media_type in PREVIEW_SIGNATURES:
        if head[offset:offset + len(signature)] == signature:
            return media_type
    if head[:4] == b"RIFF":
        return RIFF_TYPES.get(head[8:12], "")
    if head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    return ""


def download_type(name):
    """The type a download is sent with, so a phone offers the right app to open it."""
    guessed, _encoding = mimetypes.guess_type(name, strict=False)
    if not guessed or guessed in ACTIVE_TYPES:
        return "application/octet-stream"
    return guessed


def kind_of(media_type, name):
    """A word for the list: image, audio, video, document, archive, other."""
    guessed = media_type or download_type(name)
    family = guessed.split("/")[0]
    if family in ("image", "audio", "video"):
        return family
    if guessed == "application/pdf" or guessed.startswith("text/") or "document" in guessed:
        return "document"
    if any(word in guessed for word in ("zip", "tar", "compressed", "7z", "rar")):
        return "archive"
    if guessed == "application/vnd.android.package-archive":
        return "app"
    return "other"
