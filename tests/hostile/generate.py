#!/usr/bin/env python3
"""Generate strata's hostile-input corpus.

Usage:
    python3 tests/hostile/generate.py OUTDIR

Writes, below OUTDIR:

    import/<case>.tar[.gz|.xz]   inputs for `strata import FILE repo:tag`
    build/<case>.tar[.bz2]       Dockerfile + context for `strata build -t … - < FILE`
    load/<case>.tar              inputs for `strata load -i FILE`
    controls/<name>.tar[...]     valid inputs the hostile cases are derived from
    cases.json                   [{"name", "file", "command", "expect"}, ...]
    controls.json                [{"name", "file", "command"}, ...]

Every case in cases.json must make strata exit non-zero with an error message
that contains `expect` (a lowercase substring; "" means only a non-zero exit is
required).  Every control in controls.json must be accepted; controls prove
that the hostile cases fail for the reason they target and not because the
surrounding image is broken.

The output is byte-for-byte reproducible on a given machine: every tar member
has mtime=0, uid/gid=0 and empty owner names, image archives list their members
in sorted order, JSON is serialised canonically, gzip headers carry mtime=0 and
no data is random.  (The compressed bytes depend on the local zlib / liblzma
builds, so two *different* machines may produce different .gz/.xz bytes.)

Only the Python 3.11 standard library is used.
"""

import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import struct
import sys
import tarfile
import zlib  # stdlib; gzip's own backend, needed for the sync-flush point

# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------

REPO = "hostile/base"
TAG = "latest"
REF = f"{REPO}:{TAG}"
EPOCH = "1970-01-01T00:00:00Z"

MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MT_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(data: bytes) -> str:
    return "sha256:" + sha256_hex(data)


def canon(obj) -> bytes:
    """Canonical JSON: sorted keys, no insignificant whitespace."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def gz(data: bytes) -> bytes:
    """Deterministic gzip (mtime=0, no file name, level 9)."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def xz(data: bytes) -> bytes:
    """Deterministic xz (preset 6, CRC64 check)."""
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=6)


def bzip2(data: bytes) -> bytes:
    """bzip2 (level 9; the format has no timestamps, so the bytes are deterministic)."""
    return bz2.compress(data, compresslevel=9)


def flip(data: bytes, offset: int) -> bytes:
    """Return `data` with every bit of the byte at `offset` inverted."""
    out = bytearray(data)
    out[offset] ^= 0xFF
    return bytes(out)


# --------------------------------------------------------------------------
# Tar construction.  Members are (TarInfo, data-or-None) pairs written in the
# order given: for hostile rootfs tarballs the order is the attack.
# --------------------------------------------------------------------------


def _info(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.mtime = 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti


def reg(name: str, data: bytes, mode: int = 0o644):
    ti = _info(name, tarfile.REGTYPE, mode)
    ti.size = len(data)
    return ti, data


def directory(name: str, mode: int = 0o755):
    return _info(name, tarfile.DIRTYPE, mode), None


def symlink(name: str, target: str):
    ti = _info(name, tarfile.SYMTYPE, 0o777)
    ti.linkname = target
    return ti, None


def hardlink(name: str, target: str):
    ti = _info(name, tarfile.LNKTYPE, 0o644)
    ti.linkname = target
    return ti, None


def device(name: str, kind: bytes, major: int, minor: int):
    ti = _info(name, kind, 0o666)
    ti.devmajor, ti.devminor = major, minor
    return ti, None


def tar(members, fmt=tarfile.USTAR_FORMAT) -> bytes:
    """Serialise members, in order, into a tar archive (padded to 10 KiB)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, encoding="utf-8") as tf:
        for ti, data in members:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def data_offset(archive: bytes, name: str) -> tuple[int, int]:
    """(offset of member `name`'s data, its size) inside a tar archive."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tf:
        m = tf.getmember(name)
        return m.offset_data, m.size


def header_offset(archive: bytes, name: str) -> int:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tf:
        return tf.getmember(name).offset


def pack(files: dict) -> bytes:
    """Pack {path: bytes} into a tar with sorted members and parent dirs."""
    dirs = set()
    for path in files:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    members = [(p, "d") for p in dirs] + [(p, "f") for p in files]
    out = []
    for path, kind in sorted(members):
        out.append(directory(path) if kind == "d" else reg(path, files[path]))
    return tar(out)


# --------------------------------------------------------------------------
# Valid bases
# --------------------------------------------------------------------------

HELLO = reg("hello", b"hi\n")

#: The one layer of every valid base image: a single file `hello` = "hi\n".
BASE_LAYER = tar([HELLO])

#: Filler for the damaged-stream cases: compressible but not trivial text.
FILLER = b"".join(b"line %05d: strata hostile corpus filler %08x\n" % (i, i * 2654435761 & 0xFFFFFFFF)
                  for i in range(2000))

#: Tarball the truncated / corrupted stream cases are cut from.
PAYLOAD_TAR = tar([HELLO, reg("data.txt", FILLER)])


def payload_gzip() -> tuple[bytes, int]:
    """PAYLOAD_TAR as a valid gzip member with a sync-flush point in the
    middle of data.txt's contents.

    The sync flush ends the first half with an empty stored block whose LEN
    and NLEN fields are the bytes 00 00 FF FF; the corrupt case flips one of
    them.  Returns (stream, offset just past those four bytes).  The gzip
    header is written by hand (mtime=0, XFL=2, OS=255 "unknown") so that it
    is identical on every platform.
    """
    off, size = data_offset(PAYLOAD_TAR, "data.txt")
    split = off + size // 2
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(PAYLOAD_TAR[:split]) + comp.flush(zlib.Z_SYNC_FLUSH)
    assert first.endswith(b"\x00\x00\xff\xff")
    rest = comp.compress(PAYLOAD_TAR[split:]) + comp.flush(zlib.Z_FINISH)
    header = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x02\xff"
    trailer = struct.pack("<II", zlib.crc32(PAYLOAD_TAR), len(PAYLOAD_TAR) & 0xFFFFFFFF)
    stream = header + first + rest + trailer
    assert gzip.decompress(stream) == PAYLOAD_TAR
    return stream, len(header) + len(first)


def layer_with(*members) -> bytes:
    """A layer tar holding `hello` followed by the given hostile members."""
    return tar([HELLO, *members])


def image_config(diff_ids, author: str = "strata-hostile") -> bytes:
    """A minimal but complete amd64/linux image config."""
    return canon({
        "architecture": "amd64",
        "os": "linux",
        "author": author,
        "created": EPOCH,
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": [{"created": EPOCH, "created_by": "strata hostile corpus"} for _ in diff_ids],
    })


def docker_legacy(layer: bytes, config: bytes | None = None):
    """Files of a legacy (Docker < 25) `docker save` archive.

    Returns ({path: bytes}, {"config": path, "layer": path}).
    """
    if config is None:
        config = image_config([digest(layer)])
    config_path = sha256_hex(config) + ".json"
    layer_id = sha256_hex(b"strata-hostile v1 layer id\n" + layer)  # any 64-hex id
    layer_path = f"{layer_id}/layer.tar"
    manifest = [{"Config": config_path, "RepoTags": [REF], "Layers": [layer_path]}]
    files = {
        config_path: config,
        f"{layer_id}/VERSION": b"1.0",
        f"{layer_id}/json": canon({"id": layer_id, "created": EPOCH, "os": "linux"}),
        layer_path: layer,
        "manifest.json": canon(manifest),
        "repositories": canon({REPO: {TAG: layer_id}}),
    }
    return files, {"config": config_path, "layer": layer_path}


def oci_files(layer: bytes, *, compress: bool = True, docker_manifest: bool = False,
              layer_media_type: str | None = None, config: bytes | None = None,
              layer_name: str | None = None, config_stored: bytes | None = None,
              manifest_stored_fn=None):
    """Files of an OCI image layout (or, with docker_manifest, a Docker >= 25 save).

    layer            -- the uncompressed layer tar
    compress         -- store the layer gzip-compressed (tar+gzip media type)
    docker_manifest  -- also write Docker's manifest.json (Docker >= 25 layout)
    layer_media_type -- override the layer descriptor's media type
    config           -- override the config (default: diff_ids = [sha256(layer)])
    layer_name       -- hex digest to *claim* for the layer blob (default: real)
    config_stored    -- bytes actually stored under the config's digest name
    manifest_stored_fn -- maps the manifest bytes to the bytes actually stored
    """
    blob = gz(layer) if compress else layer
    if layer_media_type is None:
        layer_media_type = MT_OCI_LAYER_GZIP if compress else MT_OCI_LAYER
    if layer_name is None:
        layer_name = sha256_hex(blob)
    if config is None:
        config = image_config([digest(layer)])
    manifest = canon({
        "schemaVersion": 2,
        "mediaType": MT_OCI_MANIFEST,
        "config": {"mediaType": MT_OCI_CONFIG, "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": layer_media_type, "digest": "sha256:" + layer_name,
                    "size": len(blob)}],
        "annotations": {"org.opencontainers.image.title": "strata-hostile-base"},
    })
    index = {
        "schemaVersion": 2,
        "mediaType": MT_OCI_INDEX,
        "manifests": [{
            "mediaType": MT_OCI_MANIFEST, "digest": digest(manifest), "size": len(manifest),
            "annotations": {"io.containerd.image.name": "docker.io/" + REF,
                            "org.opencontainers.image.ref.name": TAG},
        }],
    }
    files = {
        "oci-layout": canon({"imageLayoutVersion": "1.0.0"}),
        "index.json": canon(index),
        "blobs/sha256/" + layer_name: blob,
        "blobs/sha256/" + sha256_hex(config): config if config_stored is None else config_stored,
        "blobs/sha256/" + sha256_hex(manifest):
            manifest if manifest_stored_fn is None else manifest_stored_fn(manifest),
    }
    if docker_manifest:
        files["manifest.json"] = canon([{
            "Config": "blobs/sha256/" + sha256_hex(config),
            "RepoTags": [REF],
            "Layers": ["blobs/sha256/" + layer_name],
        }])
    return files


def docker25(layer: bytes, **kw):
    """Files of a Docker >= 25 `docker save` archive (uncompressed layers)."""
    return oci_files(layer, compress=False, docker_manifest=True, **kw)


# --------------------------------------------------------------------------
# Case registry
# --------------------------------------------------------------------------

CASES = []     # (name, command, expect, fn); fn() -> (suffix, bytes)
CONTROLS = []  # (name, command, fn)


def case(command: str, expect: str):
    def register(fn):
        CASES.append((fn.__name__, command, expect, fn))
        return fn
    return register


def control(command: str):
    def register(fn):
        CONTROLS.append((fn.__name__, command, fn))
        return fn
    return register


# ==========================================================================
# Controls (must be ACCEPTED by strata)
# ==========================================================================


@control("import")
def import_basic():
    """A rootfs tarball with the single file `hello`."""
    return ".tar", BASE_LAYER


@control("import")
def import_near_miss():
    """Entries that look suspicious but are legal and must be accepted."""
    return ".tar", tar([
        HELLO,
        directory("etc"),
        reg("etc/hostname", b"strata\n"),
        directory("etc"),                                     # repeated directory: allowed
        symlink("etc/localtime", "/usr/share/zoneinfo/UTC"),  # absolute target, never followed
        symlink("etc-link", "etc"),                           # symlink inside, never written through
        symlink("up", ".."),                                  # dangling-outside target, never followed
        hardlink("etc/hostname.bak", "etc/hostname"),         # hard link to an earlier file
        reg("a..b", b"dots inside a name\n"),                 # `..` substring, not a component
        reg("...", b"three dots\n"),
        reg("..hidden", b"leading dots\n"),
        reg("./etc/motd", b"leading ./ is fine\n"),
        reg("n" * 255, b"255-byte component: the maximum\n"),
    ], fmt=tarfile.PAX_FORMAT)


@control("import")
def import_payload():
    """The plain tarball the damaged-stream cases are cut from."""
    return ".tar", PAYLOAD_TAR


@control("import")
def import_payload_gzip():
    """gzip of import_payload (source of the gzip_* cases)."""
    return ".tar.gz", payload_gzip()[0]


@control("import")
def import_payload_xz():
    """xz of import_payload (source of xz_truncated)."""
    return ".tar.xz", xz(PAYLOAD_TAR)


@control("load")
def load_docker_legacy():
    """Valid legacy docker-archive (<id>/layer.tar) holding one layer."""
    return ".tar", pack(docker_legacy(BASE_LAYER)[0])


@control("load")
def load_docker25():
    """Valid Docker >= 25 archive (manifest.json + OCI layout, blobs/sha256/)."""
    return ".tar", pack(docker25(BASE_LAYER))


@control("load")
def load_oci():
    """Valid OCI image layout tar with a gzip-compressed layer."""
    return ".tar", pack(oci_files(BASE_LAYER))


# ==========================================================================
# `strata import` cases
# ==========================================================================

# --- path traversal ------------------------------------------------------


@case("import", '".." component')
def dotdot_leading():
    """A file `../evil` that would land beside the rootfs."""
    return ".tar", tar([HELLO, reg("../evil", b"pwned\n")])


@case("import", '".." component')
def dotdot_nested():
    """`a/../../evil`: climbs out through a real directory."""
    return ".tar", tar([directory("a"), reg("a/../../evil", b"pwned\n")])


@case("import", '".." component')
def dotdot_dot_prefix():
    """`./../x`: a `./` prefix must not hide the `..`."""
    return ".tar", tar([HELLO, reg("./../x", b"pwned\n")])


@case("import", '".." component')
def dotdot_directory():
    """A directory entry `../evil/`."""
    return ".tar", tar([HELLO, directory("../evil")])


@case("import", '".." component')
def dotdot_gzip():
    """`../evil` inside a gzip-compressed tarball."""
    return ".tar.gz", gz(tar([HELLO, reg("../evil", b"pwned\n")]))


@case("import", '".." component')
def dotdot_xz():
    """`../evil` inside an xz-compressed tarball."""
    return ".tar.xz", xz(tar([HELLO, reg("../evil", b"pwned\n")]))


@case("import", "absolute path")
def absolute_file():
    """A file `/etc/cron.d/evil` with an absolute path."""
    return ".tar", tar([HELLO, reg("/etc/cron.d/evil", b"* * * * * root /evil\n")])


@case("import", "absolute path")
def absolute_directory():
    """A directory entry `/tmp/evil/`."""
    return ".tar", tar([HELLO, directory("/tmp/evil")])


@case("import", "absolute path")
def absolute_double_slash():
    """`//evil`: more than one leading slash."""
    return ".tar", tar([HELLO, reg("//evil", b"pwned\n")])


# --- writes through symlinks ---------------------------------------------


@case("import", "symlink")
def symlink_absolute_parent():
    """`link -> /etc`, then `link/passwd` writes into the host's /etc."""
    return ".tar", tar([symlink("link", "/etc"), reg("link/passwd", b"root::0:0::/:/bin/sh\n")])


@case("import", "symlink")
def symlink_dotdot_parent():
    """`link -> ..`, then `link/x` escapes the rootfs."""
    return ".tar", tar([symlink("link", ".."), reg("link/x", b"pwned\n")])


@case("import", "symlink")
def symlink_chain():
    """`a -> b`, `b -> /tmp`, then `a/x`: escape through a symlink chain."""
    return ".tar", tar([symlink("a", "b"), symlink("b", "/tmp"), reg("a/x", b"pwned\n")])


@case("import", "symlink")
def symlink_inside_parent():
    """`d/`, `link -> d`, then `link/sub/x`: even an inside symlink may not be a parent."""
    return ".tar", tar([directory("d"), symlink("link", "d"), reg("link/sub/x", b"x\n")])


@case("import", "symlink")
def symlink_nested_parent():
    """`dir/link -> /`, then `dir/link/etc/shadow`: the symlink is mid-path."""
    return ".tar", tar([directory("dir"), symlink("dir/link", "/"),
                        reg("dir/link/etc/shadow", b"root::0:0:99999:7:::\n")])


@case("import", "symlink")
def symlink_directory_through():
    """`link -> /etc`, then a *directory* entry `link/cron.d/`."""
    return ".tar", tar([symlink("link", "/etc"), directory("link/cron.d")])


@case("import", "symlink")
def symlink_dot_prefix():
    """`link -> /etc`, then `./link/passwd`: path spelling must not matter."""
    return ".tar", tar([symlink("link", "/etc"), reg("./link/passwd", b"root::0:0::/:/bin/sh\n")])


# --- hard links ------------------------------------------------------------


@case("import", "hard link")
def hardlink_dotdot():
    """Hard link `h` to `../etc/passwd`."""
    return ".tar", tar([HELLO, hardlink("h", "../etc/passwd")])


@case("import", "hard link")
def hardlink_absolute():
    """Hard link `h` to `/etc/shadow`."""
    return ".tar", tar([HELLO, hardlink("h", "/etc/shadow")])


@case("import", "hard link")
def hardlink_missing_target():
    """Hard link `h` to `nonexistent`, which is nowhere in the archive."""
    return ".tar", tar([HELLO, hardlink("h", "nonexistent")])


@case("import", "hard link")
def hardlink_forward_reference():
    """Hard link `h` to `later`, which only appears *after* the link."""
    return ".tar", tar([HELLO, hardlink("h", "later"), reg("later", b"later\n")])


@case("import", "hard link")
def hardlink_through_symlink():
    """`s -> /etc`, then hard link `h` to `s/passwd` (links the host's file)."""
    return ".tar", tar([symlink("s", "/etc"), hardlink("h", "s/passwd")])


# --- device nodes ---------------------------------------------------------
# OS templates carry /dev nodes (seed 003 imports one): accepted, kept in the layer,
# never made on the host. These are controls now; the seed's test checks the rest.


@control("import")
def import_device_char():
    """Character device `dev/mem` (1,1)."""
    return ".tar", tar([directory("dev"), device("dev/mem", tarfile.CHRTYPE, 1, 1)])


@control("import")
def import_device_block():
    """Block device `dev/sda` (8,0)."""
    return ".tar", tar([directory("dev"), device("dev/sda", tarfile.BLKTYPE, 8, 0)])


# --- duplicates -----------------------------------------------------------


@case("import", "duplicate")
def duplicate_file():
    """File `x` twice with different contents."""
    return ".tar", tar([reg("x", b"first\n"), reg("x", b"second\n")])


@case("import", "duplicate")
def duplicate_file_then_symlink():
    """File `a`, then symlink `a -> /etc/passwd` replacing it."""
    return ".tar", tar([reg("a", b"file\n"), symlink("a", "/etc/passwd")])


@case("import", "duplicate")
def duplicate_dot_slash_alias():
    """File `./x` then file `x`: the same path spelled two ways."""
    return ".tar", tar([reg("./x", b"first\n"), reg("x", b"second\n")])


# --- over-long names -------------------------------------------------------


@case("import", "name too long")
def name_component_too_long():
    """A 256-byte path component (GNU ././@LongLink header)."""
    return ".tar", tar([HELLO, reg("c" * 256, b"long\n")], fmt=tarfile.GNU_FORMAT)


@case("import", "name too long")
def name_path_too_long():
    """A 4266-byte path made of 250-byte components (PAX `path` record)."""
    path = "/".join(f"{i:02d}".ljust(250, "p") for i in range(17))
    assert len(path) > 4096 and all(len(c) <= 255 for c in path.split("/"))
    return ".tar", tar([HELLO, reg(path, b"deep\n")], fmt=tarfile.PAX_FORMAT)


# --- damaged streams -------------------------------------------------------


@case("import", "truncated")
def tar_truncated_in_data():
    """Plain tar cut in the middle of `data.txt`'s contents."""
    off, size = data_offset(PAYLOAD_TAR, "data.txt")
    return ".tar", PAYLOAD_TAR[:off + size // 2]


@case("import", "")
def tar_header_checksum():
    """Plain tar whose `data.txt` header checksum field has one digit changed."""
    field = header_offset(PAYLOAD_TAR, "data.txt") + 148  # chksum: 8 bytes at 148
    data = bytearray(PAYLOAD_TAR)
    data[field + 1] = ord("7") if data[field + 1] != ord("7") else ord("6")
    return ".tar", bytes(data)


@case("import", "truncated")
def gzip_truncated():
    """gzip stream cut in half (mid-deflate, no trailer)."""
    stream, _ = payload_gzip()
    return ".tar.gz", stream[:len(stream) // 2]


@case("import", "corrupt")
def gzip_corrupt_deflate():
    """gzip stream with one byte in the middle inverted: the NLEN field of
    the empty stored block emitted by the mid-stream sync flush no longer
    complements LEN, which every inflater rejects at that exact point."""
    stream, flush_end = payload_gzip()
    bad = flip(stream, flush_end - 1)            # NLEN 0xFFFF -> 0x00FF
    dec = zlib.decompressobj(-15)
    out = dec.decompress(bad[10:flush_end - 4])  # everything before the block
    assert PAYLOAD_TAR.startswith(out)
    try:
        dec.decompress(bad[flush_end - 4:])
        raise AssertionError("flip was not detected")
    except zlib.error as err:
        assert "invalid stored block lengths" in str(err), err
    return ".tar.gz", bad


@case("import", "corrupt")
def gzip_bad_crc():
    """gzip stream intact except its CRC32 trailer (caught only if drained)."""
    stream, _ = payload_gzip()
    return ".tar.gz", flip(stream, len(stream) - 8)


@case("import", "truncated")
def xz_truncated():
    """xz stream cut in half."""
    stream = xz(PAYLOAD_TAR)
    return ".tar.xz", stream[:len(stream) // 2]


# ==========================================================================
# `strata load` cases
# ==========================================================================

DOTDOT_LAYER = layer_with(reg("../evil", b"pwned\n"))
ABSOLUTE_LAYER = layer_with(reg("/etc/cron.d/evil", b"* * * * * root /evil\n"))
SYMLINK_LAYER = layer_with(symlink("link", "/etc"), reg("link/passwd", b"root::0:0::/:/bin/sh\n"))

# --- hostile layer contents (all digests valid) ----------------------------


@case("load", '".." component')
def docker_layer_dotdot():
    """Legacy docker-archive whose layer contains `../evil`."""
    return ".tar", pack(docker_legacy(DOTDOT_LAYER)[0])


@case("load", "absolute path")
def docker_layer_absolute():
    """Legacy docker-archive whose layer contains `/etc/cron.d/evil`."""
    return ".tar", pack(docker_legacy(ABSOLUTE_LAYER)[0])


@case("load", "symlink")
def docker_layer_symlink_escape():
    """Legacy docker-archive whose layer has `link -> /etc` then `link/passwd`."""
    return ".tar", pack(docker_legacy(SYMLINK_LAYER)[0])


@case("load", '".." component')
def docker25_layer_dotdot():
    """Docker >= 25 archive whose layer contains `../evil`."""
    return ".tar", pack(docker25(DOTDOT_LAYER))


@case("load", "absolute path")
def docker25_layer_absolute():
    """Docker >= 25 archive whose layer contains `/etc/cron.d/evil`."""
    return ".tar", pack(docker25(ABSOLUTE_LAYER))


@case("load", "symlink")
def docker25_layer_symlink_escape():
    """Docker >= 25 archive whose layer has `link -> /etc` then `link/passwd`."""
    return ".tar", pack(docker25(SYMLINK_LAYER))


@case("load", '".." component')
def oci_layer_dotdot():
    """OCI layout whose gzip layer contains `../evil`."""
    return ".tar", pack(oci_files(DOTDOT_LAYER))


@case("load", "absolute path")
def oci_layer_absolute():
    """OCI layout whose gzip layer contains `/etc/cron.d/evil`."""
    return ".tar", pack(oci_files(ABSOLUTE_LAYER))


@case("load", "symlink")
def oci_layer_symlink_escape():
    """OCI layout whose gzip layer has `link -> /etc` then `link/passwd`."""
    return ".tar", pack(oci_files(SYMLINK_LAYER))


# --- missing members -------------------------------------------------------


@case("load", "missing")
def docker_missing_config():
    """Legacy docker-archive whose manifest.json names a config file that is absent."""
    files, names = docker_legacy(BASE_LAYER)
    del files[names["config"]]
    return ".tar", pack(files)


@case("load", "missing")
def docker_missing_layer():
    """Legacy docker-archive whose manifest.json names a layer.tar that is absent."""
    files, names = docker_legacy(BASE_LAYER)
    del files[names["layer"]]
    return ".tar", pack(files)


# --- digest / diff_id mismatches --------------------------------------------

#: Same length as BASE_LAYER, one byte of content different ("hj\n").
TAMPERED_LAYER = tar([reg("hello", b"hj\n")])
assert len(TAMPERED_LAYER) == len(BASE_LAYER) and TAMPERED_LAYER != BASE_LAYER


def _tamper_author(config: bytes) -> bytes:
    """Same-length edit of a config: still valid JSON, different digest."""
    out = config.replace(b'"author":"strata-hostile"', b'"author":"strata-HOSTILE"')
    assert out != config and len(out) == len(config)
    return out


@case("load", "digest")
def docker25_config_digest_mismatch():
    """Docker >= 25 archive whose config blob bytes do not hash to its name."""
    config = image_config([digest(BASE_LAYER)])
    return ".tar", pack(docker25(BASE_LAYER, config=config, config_stored=_tamper_author(config)))


@case("load", "digest")
def docker25_layer_digest_mismatch():
    """Docker >= 25 archive whose layer blob is named after a different layer
    (diff_ids do match the bytes actually stored)."""
    return ".tar", pack(docker25(TAMPERED_LAYER, layer_name=sha256_hex(BASE_LAYER)))


@case("load", "digest")
def oci_config_digest_mismatch():
    """OCI layout whose config blob bytes do not hash to its name."""
    config = image_config([digest(BASE_LAYER)])
    return ".tar", pack(oci_files(BASE_LAYER, config=config, config_stored=_tamper_author(config)))


@case("load", "digest")
def oci_layer_digest_mismatch():
    """OCI layout whose gzip layer blob is named after a different blob
    (diff_ids do match the bytes actually stored)."""
    return ".tar", pack(oci_files(TAMPERED_LAYER, layer_name=sha256_hex(gz(BASE_LAYER))))


@case("load", "digest")
def oci_index_digest_mismatch():
    """OCI layout whose index.json descriptor digest does not match the
    manifest blob's bytes (same size, one annotation byte changed)."""
    def tamper(manifest: bytes) -> bytes:
        out = manifest.replace(b"strata-hostile-base", b"strata-hostile-BASE")
        assert out != manifest and len(out) == len(manifest)
        return out
    return ".tar", pack(oci_files(BASE_LAYER, manifest_stored_fn=tamper))


@case("load", "diff")
def docker_diff_id_mismatch():
    """Legacy docker-archive whose config rootfs.diff_ids names another layer."""
    config = image_config([digest(TAMPERED_LAYER)])
    return ".tar", pack(docker_legacy(BASE_LAYER, config=config)[0])


@case("load", "diff")
def oci_diff_id_mismatch():
    """OCI layout whose config rootfs.diff_ids names another layer."""
    config = image_config([digest(TAMPERED_LAYER)])
    return ".tar", pack(oci_files(BASE_LAYER, config=config))


# --- OCI structure ---------------------------------------------------------


@case("load", "media type")
def oci_unknown_layer_media_type():
    """OCI manifest whose only layer has media type `application/x-evil`."""
    return ".tar", pack(oci_files(BASE_LAYER, compress=False, layer_media_type="application/x-evil"))


@case("load", "")
def oci_index_cycle():
    """index.json -> nested index N whose only descriptor is N itself.

    A content-addressed blob cannot contain its own digest, so N's bytes do
    not hash to N: a strata that verifies blobs before parsing them reports a
    digest error, one that parses first should report the cycle ("index").
    Hence expect "" (see README).  The valid image's blobs are still present.
    """
    files = oci_files(BASE_LAYER)
    fake = sha256_hex(b"strata-hostile: self-referencing nested index\n")
    size = 0
    while True:  # the blob records its own size: iterate to the fixed point
        nested = canon({"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": [
            {"mediaType": MT_OCI_INDEX, "digest": "sha256:" + fake, "size": size}]})
        if len(nested) == size:
            break
        size = len(nested)
    files["blobs/sha256/" + fake] = nested
    files["index.json"] = canon({"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": [
        {"mediaType": MT_OCI_INDEX, "digest": "sha256:" + fake, "size": size}]})
    return ".tar", pack(files)


# --- manifest.json / config JSON -----------------------------------------


def _legacy_with_manifest(manifest: bytes) -> bytes:
    files, _ = docker_legacy(BASE_LAYER)
    files["manifest.json"] = manifest
    return pack(files)


@case("load", "manifest.json")
def docker_manifest_not_json():
    """Legacy docker-archive whose manifest.json is not JSON."""
    return ".tar", _legacy_with_manifest(b"this is not json\n")


@case("load", "manifest.json")
def docker_manifest_empty_object():
    """Legacy docker-archive whose manifest.json is `{}`."""
    return ".tar", _legacy_with_manifest(b"{}")


@case("load", "manifest.json")
def docker_manifest_empty_list():
    """Legacy docker-archive whose manifest.json is `[]` (no images)."""
    return ".tar", _legacy_with_manifest(b"[]")


@case("load", "too large")
def docker_manifest_too_large():
    """Legacy docker-archive whose otherwise valid manifest.json is padded
    with spaces to exactly 20 MiB."""
    files, _ = docker_legacy(BASE_LAYER)
    entry = files["manifest.json"][:-1]           # `[{...}` without the closing `]`
    padding = 20 * 1024 * 1024 - len(entry) - 1
    files["manifest.json"] = entry + b" " * padding + b"]"
    json.loads(files["manifest.json"])             # still valid JSON
    return ".tar", pack(files)


@case("load", "json")
def docker_config_deep_json():
    """Legacy docker-archive whose config is 100000 nested arrays (balanced,
    syntactically valid JSON; correctly named by its digest)."""
    deep = b"[" * 100_000 + b"]" * 100_000
    files, names = docker_legacy(BASE_LAYER)
    del files[names["config"]]
    files[sha256_hex(deep) + ".json"] = deep
    manifest = json.loads(files["manifest.json"])
    manifest[0]["Config"] = sha256_hex(deep) + ".json"
    files["manifest.json"] = canon(manifest)
    return ".tar", pack(files)


@case("load", "")
def docker_truncated_archive():
    """Valid legacy docker-archive cut in the middle of its layer.tar."""
    files, names = docker_legacy(BASE_LAYER)
    archive = pack(files)
    off, size = data_offset(archive, names["layer"])
    return ".tar", archive[:off + size // 2]


# ==========================================================================
# Builds: Dockerfiles in tar contexts for `strata build -` (each fails cleanly with
# the Dockerfile's line, or at the context, before any image is recorded)
# ==========================================================================


def context(dockerfile: str, *members) -> tuple[str, bytes]:
    return ".tar", tar([reg("Dockerfile", dockerfile.encode())] + list(members))


@control("build")
def build_scratch_copy():
    return context("FROM scratch\nCOPY ok.txt /ok.txt\nCMD [\"/ok.txt\"]\n", reg("ok.txt", b"ok\n"))


@case("build", "dockerfile:2: unknown instruction: foo")
def build_unknown_instruction():
    return context("FROM scratch\nFOO bar\n")


@case("build", "dockerfile:2: copy: unknown flag: --form")
def build_unknown_flag():
    return context("FROM scratch\nCOPY --form=x a /\n", reg("a", b"a"))


@case("build", "dockerfile:2: unterminated heredoc <<eof")
def build_unterminated_heredoc():
    return context("FROM scratch\nCOPY <<EOF /x\nnever ends\n")


@case("build", "dockerfile:2: env: unterminated double quote")
def build_unterminated_quote():
    return context('FROM scratch\nENV A="open\n')


@case("build", "dockerfile:2: env: bad substitution")
def build_bad_substitution():
    return context("FROM scratch\nENV A=${B\n")


@case("build", "dockerfile:1: invalid escape token")
def build_bad_escape_directive():
    return context("# escape=x\nFROM scratch\n")


@case("build", "forbidden path outside the build context: ../secret")
def build_copy_dotdot():
    return context("FROM scratch\nCOPY ../secret /\n")


@case("build", '".." component')
def build_context_dotdot_bzip2():
    """`../evil` in a bzip2-compressed context (Docker takes bzip2 contexts)."""
    return ".tar.bz2", bzip2(context("FROM scratch\n", reg("../evil", b"pwned\n"))[1])


@case("build", "symlink")
def build_context_symlink_parent():
    """`up -> ..`, then `up/evil`: a write through a link out of the context."""
    return context("FROM scratch\n", symlink("up", ".."), reg("up/evil", b"pwned\n"))


@case("build", "forbidden path outside the build context")
def build_copy_absolute_dotdot():
    return context("FROM scratch\nCOPY /../../etc/passwd /\n")


@case("build", "not found in build context")
def build_copy_through_symlink():
    return context("FROM scratch\nCOPY up/passwd /\n", symlink("up", "/etc"))


@case("build", "not found in build context")
def build_copy_through_relative_symlink():
    return context("FROM scratch\nCOPY up/etc/passwd /\n", symlink("up", "../../../../.."))


@case("build", "not found in build context")
def build_copy_excluded():
    return context("FROM scratch\nCOPY secret.key /\n", reg("secret.key", b"k"), reg(".dockerignore", b"*.key\n"))


@case("build", "--from=nowhere: no stage or local image")
def build_unknown_stage():
    return context("FROM scratch\nCOPY --from=nowhere /x /\n")


@case("build", "dockerfile:2: from: base name ($b) should not be blank")
def build_empty_from():
    return context("ARG B\nFROM $B\n")


@case("build", "dockerfile:1: run before the first from")
def build_no_from():
    return context("RUN true\n")


@case("build", "from requires either one or three arguments")
def build_from_two_words():
    return context("FROM scratch extra\n")


@case("build", "shell requires the arguments to be in json form")
def build_shell_not_json():
    return context("FROM scratch\nSHELL sh -c\n")


@case("build", "from isn't allowed as an onbuild trigger")
def build_onbuild_from():
    return context("FROM scratch\nONBUILD FROM other\n")


@case("build", "there is no shell or program to run")
def build_run_in_scratch():
    return context("FROM scratch\nRUN true\n")


@case("build", "workdir requires at least one argument")
def build_workdir_without_argument():
    return context("FROM scratch\nWORKDIR\n")


@case("build", "context archive")
def build_context_hardlink_escape():
    return context("FROM scratch\n", hardlink("passwd", "../../etc/passwd"))


@case("build", "context archive")
def build_context_dotdot_entry():
    return context("FROM scratch\n", reg("../evil", b"x"))


# ==========================================================================
# Driver
# ==========================================================================


def write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main(argv) -> int:
    if len(argv) != 2:
        print("usage: python3 tests/hostile/generate.py OUTDIR", file=sys.stderr)
        return 2
    outdir = argv[1]
    names = [n for n, *_ in CASES] + [n for n, *_ in CONTROLS]
    assert len(names) == len(set(names)), "duplicate case name"

    controls = []
    for name, command, fn in CONTROLS:
        suffix, data = fn()
        rel = f"controls/{name}{suffix}"
        write(os.path.join(outdir, rel), data)
        controls.append({"name": name, "file": rel, "command": command})

    cases = []
    for name, command, expect, fn in CASES:
        assert expect == expect.lower()
        suffix, data = fn()
        rel = f"{command}/{name}{suffix}"
        write(os.path.join(outdir, rel), data)
        cases.append({"name": name, "file": rel, "command": command, "expect": expect})

    for fname, obj in (("cases.json", cases), ("controls.json", controls)):
        write(os.path.join(outdir, fname), (json.dumps(obj, indent=2) + "\n").encode())
    print(f"wrote {len(cases)} cases and {len(controls)} controls to {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
