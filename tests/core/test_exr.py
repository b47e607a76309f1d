"""mcdenoise.core.exr: real EXR files written and read back (tiny images, fast)."""
from __future__ import annotations

import struct
import tracemalloc
import warnings

import numpy as np
import OpenEXR
import pytest

from mcdenoise.core.exr import ExrError, channel_layout, read_frame, read_header, write_frame
from mcdenoise.core.frame import Frame

H, W = 6, 5


def make_frame(rng_seed: int = 0, **metadata) -> Frame:
    rng = np.random.default_rng(rng_seed)
    depth = rng.uniform(0.5, 20.0, (H, W)).astype(np.float32)
    depth[0, 0] = 1e10  # background: does not fit in half
    return Frame(color=rng.uniform(0.0, 50.0, (H, W, 3)),
                 albedo=rng.uniform(0.0, 1.0, (H, W, 3)),
                 normal=rng.uniform(-1.0, 1.0, (H, W, 3)),
                 alpha=rng.uniform(0.0, 1.0, (H, W)),
                 depth=depth, metadata=dict(metadata))


def raw_channels(path) -> tuple[dict, dict[str, np.ndarray]]:
    with OpenEXR.File(str(path), separate_channels=True) as f:
        return dict(f.header()), {n: c.pixels for n, c in f.channels().items()}


def write_raw(path, channels: dict, header: dict | None = None) -> None:
    OpenEXR.File(dict(header or {}), dict(channels)).write(str(path))


def rgb(shape=(H, W), dtype=np.float32, seed=1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {c: rng.uniform(0, 1, shape).astype(dtype) for c in "RGB"}


def patch_attribute(data: bytes, name: str, kind: str, value: bytes) -> bytes:
    """Replace the value of header attribute ``name`` (same size) in raw EXR bytes."""
    key = name.encode() + b"\0" + kind.encode() + b"\0"
    at = data.index(key) + len(key)
    size = struct.unpack_from("<i", data, at)[0]
    assert size == len(value)
    return data[:at + 4] + value + data[at + 4 + size:]


METADATA = {"scene": "interior:17", "spp": 64, "seed": 3, "renderer": "mitsuba 3.9.1",
            "version": "0.1.0", "timings": {"render_s": 1.25, "aux_s": 0.5},
            "sizes": [1, 2, 3], "exposure": 0.1, "denoised": True, "note": None,
            "big": 2**40, "looks_like_json": "[not json", "unicode": "écran"}


# --- round trips ---

@pytest.mark.parametrize("precision", ["half", "float"])
@pytest.mark.parametrize("compression", ["zip", "piz"])
def test_round_trip_full_frame(tmp_path, precision, compression):
    frame = make_frame(**METADATA)
    path = tmp_path / "frame.exr"
    write_frame(frame, path, precision=precision, compression=compression)
    back = read_frame(path)

    assert back.metadata == METADATA
    stored = np.float16 if precision == "half" else np.float32
    for role in ("color", "albedo", "normal", "alpha"):
        want = getattr(frame, role).astype(stored).astype(np.float32)
        np.testing.assert_array_equal(getattr(back, role), want, err_msg=role)
    np.testing.assert_array_equal(back.depth, frame.depth)  # always float32, 1e10 kept
    assert back.extra == {}
    assert back.channel_names == {"color": ("R", "G", "B"), "alpha": ("A",),
                                  "albedo": ("albedo.R", "albedo.G", "albedo.B"),
                                  "normal": ("N.X", "N.Y", "N.Z"), "depth": ("Z",)}
    header = read_header(path)
    kind = "half" if precision == "half" else "float"
    assert header["width"] == W and header["height"] == H
    assert header["compression"] == compression
    assert header["channels"] == {"R": kind, "G": kind, "B": kind, "A": kind, "albedo.R": kind,
                                  "albedo.G": kind, "albedo.B": kind, "N.X": kind, "N.Y": kind,
                                  "N.Z": kind, "Z": "float"}
    assert header["attributes"]["mcdenoise/spp"] == "int"
    assert header["attributes"]["mcdenoise/exposure"] == "double"
    assert header["attributes"]["mcdenoise/scene"] == "string"


def test_half_clamps_overflow_and_keeps_nonfinite(tmp_path):
    color = np.ones((H, W, 3), np.float32)
    color[0, 0] = [1e6, -1e6, 70000.0]
    color[1, 1, 0] = np.inf
    path = tmp_path / "hot.exr"
    write_frame(Frame(color=color), path, precision="half")
    with pytest.warns(RuntimeWarning):
        back = read_frame(path)
    np.testing.assert_array_equal(back.color[0, 0], [65504.0, -65504.0, 65504.0])
    assert back.color[1, 1, 0] == np.inf


def test_minimal_frame_and_bad_arguments(tmp_path):
    path = tmp_path / "plain.exr"
    write_frame(Frame(color=np.zeros((2, 3, 3))), path, compression="none")
    back = read_frame(path)
    assert back.color.shape == (2, 3, 3) and back.albedo is None and back.depth is None
    assert back.metadata == {}
    assert read_header(path)["compression"] == "none"
    with pytest.raises(ValueError):
        write_frame(back, path, precision="double")
    with pytest.raises(ValueError):
        write_frame(back, path, compression="gzip")


def test_data_window_origin_round_trips(tmp_path):
    src = tmp_path / "crop.exr"
    data_window = (np.array([10, 20], np.int32), np.array([14, 25], np.int32))
    display_window = (np.array([0, 0], np.int32), np.array([99, 99], np.int32))
    write_raw(src, rgb(), {"dataWindow": data_window, "displayWindow": display_window})
    frame = read_frame(src)
    assert frame.color.shape == (H, W, 3)
    out = tmp_path / "crop_out.exr"
    write_frame(frame, out)
    header = read_header(out)
    assert header["data_window"] == ((10, 20), (14, 25))
    assert header["display_window"] == ((0, 0), (99, 99))


# --- other writers' files ---

@pytest.fixture
def mitsuba_scalar():
    import mitsuba as mi  # a hard dependency: its absence must fail, not skip
    previous = mi.variant()
    mi.set_variant("scalar_rgb")
    yield mi
    if previous and previous != "scalar_rgb":
        mi.set_variant(previous)


def test_mitsuba_bitmap_writer(tmp_path, mitsuba_scalar):
    mi = mitsuba_scalar
    names = ["R", "G", "B", "A", "albedo.R", "albedo.G", "albedo.B",
             "nn.X", "nn.Y", "nn.Z", "dd.T", "pos.X", "pos.Y", "pos.Z"]
    array = np.random.default_rng(2).uniform(0, 1, (H, W, len(names))).astype(np.float32)
    path = tmp_path / "mitsuba.exr"
    mi.Bitmap(array, channel_names=names).write(str(path))

    frame = read_frame(path)
    np.testing.assert_array_equal(frame.color, array[..., 0:3])
    np.testing.assert_array_equal(frame.alpha, array[..., 3])
    np.testing.assert_array_equal(frame.albedo, array[..., 4:7])
    np.testing.assert_array_equal(frame.normal, array[..., 7:10])
    np.testing.assert_array_equal(frame.depth, array[..., 10])
    assert frame.channel_names["normal"] == ("nn.X", "nn.Y", "nn.Z")
    assert frame.channel_names["depth"] == ("dd.T",)
    assert sorted(frame.extra) == ["pos.X", "pos.Y", "pos.Z"]
    assert frame.metadata["exr_attributes"]["generatedBy"].startswith("Mitsuba")


def test_mitsuba_aov_render(tmp_path, mitsuba_scalar):
    mi = mitsuba_scalar
    scene = mi.load_dict({
        "type": "scene",
        "integrator": {"type": "aov", "aovs": "albedo:albedo,sh_normal:sh_normal,depth:depth",
                       "img": {"type": "path"}},
        "sensor": {"type": "perspective",
                   "film": {"type": "hdrfilm", "width": W, "height": H, "pixel_format": "rgba"},
                   "sampler": {"type": "independent", "sample_count": 2}},
        "sphere": {"type": "sphere", "center": [0, 0, 5]},
        "light": {"type": "constant"},
    })
    mi.render(scene)
    path = tmp_path / "aov.exr"
    scene.sensors()[0].film().bitmap().write(str(path))
    frame = read_frame(path)
    assert frame.channel_names["color"] == ("R", "G", "B")
    assert frame.channel_names["albedo"] == ("albedo.R", "albedo.G", "albedo.B")
    assert frame.channel_names["normal"] == ("sh_normal.X", "sh_normal.Y", "sh_normal.Z")
    assert frame.channel_names["depth"] == ("depth.T",)
    assert frame.has_aux and frame.color.max() > 0


def blender_channels() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)

    def plane(dtype=np.float16):
        return rng.uniform(0, 4, (H, W)).astype(dtype)

    channels = {"Background.Mist.Z": plane(np.float32)}
    for layer in ("ViewLayer", "ViewLayer2"):
        channels.update({f"{layer}.Combined.{c}": plane() for c in "ABGR"})
    channels.update({f"ViewLayer.Denoising Albedo.{c}": plane() for c in "BGR"})
    channels["ViewLayer.Denoising Depth.Z"] = plane(np.float32)
    channels.update({f"ViewLayer.Denoising Normal.{c}": plane() for c in "XYZ"})
    channels["ViewLayer.Depth.Z"] = plane(np.float32)
    channels.update({f"ViewLayer.DiffCol.{c}": plane() for c in "BGR"})
    channels["ViewLayer.IndexOB.X"] = rng.integers(0, 9, (H, W)).astype(np.uint32)
    return dict(sorted(channels.items()))  # Blender writes channels alphabetically


BLENDER_HEADER = {
    "BlenderMultiChannel": "Blender V2.55.1 and newer",
    "RenderTime": "00:01.25",
    "Frame": "001",
    "chromaticities": (0.64, 0.33, 0.3, 0.6, 0.15, 0.06, 0.3127, 0.329),
    "worldToCamera": np.eye(4, dtype=np.float32),
    "exposureBias": np.array([0.25], np.float64),
    "samples": 128,
}


def test_blender_multilayer_read_modify_write(tmp_path):
    src, out = tmp_path / "blender.exr", tmp_path / "denoised.exr"
    original = blender_channels()
    write_raw(src, original, BLENDER_HEADER)
    frame = read_frame(src)
    assert frame.channel_names == {
        "color": ("ViewLayer.Combined.R", "ViewLayer.Combined.G", "ViewLayer.Combined.B"),
        "alpha": ("ViewLayer.Combined.A",),
        "albedo": tuple(f"ViewLayer.Denoising Albedo.{c}" for c in "RGB"),
        "normal": tuple(f"ViewLayer.Denoising Normal.{c}" for c in "XYZ"),
        "depth": ("ViewLayer.Depth.Z",),
    }
    np.testing.assert_array_equal(frame.color[..., 0], original["ViewLayer.Combined.R"])
    assert frame.extra["ViewLayer.IndexOB.X"].dtype == np.uint32

    denoised = frame.replace(color=frame.color * 0.5)
    write_frame(denoised, out, precision="half")
    header, written = raw_channels(out)

    assert set(written) == set(original)  # nothing added (no top-level R,G,B), nothing lost
    np.testing.assert_array_equal(written["ViewLayer.Combined.R"],
                                  (frame.color[..., 0] * 0.5).astype(np.float16))
    for name in frame.extra:
        assert written[name].dtype == original[name].dtype, name
        assert written[name].tobytes() == original[name].tobytes(), name
    for name in ("ViewLayer.Combined.A", "ViewLayer.Denoising Albedo.G", "ViewLayer.Depth.Z"):
        assert written[name].tobytes() == original[name].tobytes(), name
    for name, value in BLENDER_HEADER.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(header[name], value)
        elif name == "chromaticities":
            np.testing.assert_allclose(header[name], value, rtol=1e-6)
        else:
            assert header[name] == value, name


def mixed_precision_channels() -> dict[str, np.ndarray]:
    """A Blender-style file whose layers differ in type: half beauty, float normals and
    depth, a float alpha, a second view layer in float, a uint ID pass."""
    channels = blender_channels()
    rng = np.random.default_rng(11)
    for name in list(channels):
        if name.startswith(("ViewLayer.Denoising Normal.", "ViewLayer2.Combined.")) or \
                name == "ViewLayer.Combined.A":
            channels[name] = rng.uniform(-1, 1, (H, W)).astype(np.float32)
    return channels


@pytest.mark.parametrize("precision", ["half", "float"])
def test_untouched_channels_keep_their_type_and_bits(tmp_path, precision):
    src, out = tmp_path / "mixed.exr", tmp_path / "denoised.exr"
    original = mixed_precision_channels()
    write_raw(src, original, BLENDER_HEADER)
    frame = read_frame(src)
    assert frame.channel_types["ViewLayer.Denoising Normal.X"] == "float"
    assert frame.channel_types["ViewLayer.Combined.R"] == "half"

    write_frame(frame.replace(color=frame.color * 0.5), out, precision=precision)
    _, written = raw_channels(out)
    colour = set(frame.names("color"))
    assert set(written) == set(original)
    for name, array in original.items():
        if name in colour:
            assert written[name].dtype == (np.float16 if precision == "half" else np.float32)
        else:  # albedo, normal, alpha, depth and the extras: exactly as they were
            assert written[name].dtype == array.dtype, name
            assert written[name].tobytes() == array.tobytes(), name


@pytest.mark.parametrize("names, expected", [
    # Arnold: RGB-named normals, lower-case albedo, Z at top level
    (["A", "B", "G", "R", "N.B", "N.G", "N.R", "Z", "albedo.b", "albedo.g", "albedo.r"],
     {"color": ("R", "G", "B"), "alpha": ("A",), "normal": ("N.R", "N.G", "N.B"),
      "albedo": ("albedo.r", "albedo.g", "albedo.b"), "depth": ("Z",)}),
    # V-Ray / RenderMan style names with a beauty layer
    (["beauty.R", "beauty.G", "beauty.B", "normal.x", "normal.y", "normal.z",
      "diffuse_albedo.R", "diffuse_albedo.G", "diffuse_albedo.B", "specular.R",
      "specular.G", "specular.B"],
     {"color": ("beauty.R", "beauty.G", "beauty.B"), "normal": ("normal.x", "normal.y", "normal.z"),
      "albedo": ("diffuse_albedo.R", "diffuse_albedo.G", "diffuse_albedo.B")}),
    # a single unknown RGB layer is the colour
    (["rgba_noisy.R", "rgba_noisy.G", "rgba_noisy.B", "Normal.X", "Normal.Y", "Normal.Z"],
     {"color": ("rgba_noisy.R", "rgba_noisy.G", "rgba_noisy.B"),
      "normal": ("Normal.X", "Normal.Y", "Normal.Z")}),
    # two unknown RGB layers: ambiguous, no colour
    (["diffuse.R", "diffuse.G", "diffuse.B", "specular.R", "specular.G", "specular.B"], {}),
])
def test_channel_layout_conventions(names, expected):
    assert channel_layout(names) == expected


def test_arnold_style_file(tmp_path):
    rng = np.random.default_rng(3)
    channels = {**rgb(), "N.R": rng.uniform(-1, 1, (H, W)).astype(np.float32)}
    channels["N.G"], channels["N.B"] = channels["N.R"] * 0.5, channels["N.R"] * 0.25
    channels.update({f"albedo.{c}": rng.uniform(0, 1, (H, W)).astype(np.float16) for c in "RGB"})
    path = tmp_path / "arnold.exr"
    write_raw(path, channels)
    frame = read_frame(path)
    np.testing.assert_array_equal(frame.normal[..., 1], channels["N.G"])
    np.testing.assert_array_equal(frame.albedo[..., 2], channels["albedo.B"].astype(np.float32))
    assert frame.channel_names["normal"] == ("N.R", "N.G", "N.B")


def test_simple_multipart_file_is_merged(tmp_path):
    path = tmp_path / "parts.exr"
    parts = [OpenEXR.Part({}, rgb(), "beauty"),
             OpenEXR.Part({}, {f"albedo.{c}": np.full((H, W), 0.5, np.float32) for c in "RGB"},
                          "aux")]
    OpenEXR.File(parts).write(str(path))
    frame = read_frame(path)
    assert frame.albedo is not None and read_header(path)["parts"] == 2


# --- bad files ---

def good_file_bytes(tmp_path, compression="zip") -> bytes:
    path = tmp_path / "good.exr"
    write_frame(make_frame(spp=4), path, compression=compression)
    return path.read_bytes()


def assert_exr_error(path, *fragments) -> ExrError:
    with pytest.raises(ExrError) as info:
        read_frame(path)
    error = info.value
    assert error.path == str(path) and str(error) == f"{path}: {error.problem}"
    for fragment in fragments:
        assert fragment in error.problem
    return error


def test_missing_file(tmp_path):
    assert_exr_error(tmp_path / "nope.exr", "no such file")
    with pytest.raises(ExrError):
        read_header(tmp_path / "nope.exr")


def test_not_an_exr(tmp_path):
    path = tmp_path / "scan.exr"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    assert_exr_error(path, "not an OpenEXR file (bad magic number)")
    with pytest.raises(ExrError, match="bad magic"):
        read_header(path)


@pytest.mark.parametrize("compression", ["none", "zip", "piz"])
def test_truncated_at_every_byte(tmp_path, compression):
    # Without our own check, OpenEXR prints a warning and returns a file with no parts.
    source = tmp_path / "small.exr"
    color = np.random.default_rng(4).uniform(0, 1, (3, 2, 3))
    write_frame(Frame(color=color, depth=color[..., 0], metadata={"spp": 1}), source,
                compression=compression)
    data = source.read_bytes()
    path = tmp_path / "cut.exr"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may slip through as a mere warning
        for cut in range(len(data)):
            path.write_bytes(data[:cut])
            error = assert_exr_error(path)
            assert ("truncated" in error.problem) if cut >= 4 else ("magic" in error.problem)


def header_end(data: bytes) -> int:
    """Byte offset just past a single-part header, i.e. where the offset table starts."""
    pos = 8
    while data[pos] != 0:
        type_end = data.index(b"\0", data.index(b"\0", pos) + 1)
        pos = type_end + 5 + struct.unpack_from("<i", data, type_end + 1)[0]
    return pos + 1


def test_unfinished_offset_table(tmp_path):
    data = good_file_bytes(tmp_path, "none")  # one scanline per chunk: H table entries
    last_entry = header_end(data) + 8 * (H - 1)
    path = tmp_path / "unfinished.exr"
    # An interrupted writer leaves zeros in the offset table.
    path.write_bytes(data[:last_entry] + bytes(8) + data[last_entry + 8:])
    assert_exr_error(path, "unfinished")


def test_no_colour_channels(tmp_path):
    path = tmp_path / "depth_only.exr"
    write_raw(path, {"Z": np.ones((H, W), np.float32), "foo.X": np.ones((H, W), np.float32)})
    assert_exr_error(path, "no colour channels (found: Z, foo.X)")


def test_subsampled_channel(tmp_path):
    data = good_file_bytes(tmp_path)
    # chlist entry: name\0, int32 type, uint8 pLinear, 3 reserved, int32 xSampling, ySampling
    at = data.index(b"albedo.G\0") + len(b"albedo.G\0") + 8
    path = tmp_path / "sub.exr"
    path.write_bytes(data[:at] + struct.pack("<ii", 2, 2) + data[at + 8:])
    assert_exr_error(path, "channels of different sizes", "albedo.G")


def test_multipart_with_different_data_windows(tmp_path):
    path = tmp_path / "parts.exr"
    display = (np.array([0, 0], np.int32), np.array([W - 1, H - 1], np.int32))
    small = (np.array([0, 0], np.int32), np.array([2, 2], np.int32))
    OpenEXR.File([
        OpenEXR.Part({"displayWindow": display}, rgb(), "beauty"),
        OpenEXR.Part({"displayWindow": display, "dataWindow": small},
                     {"Z": np.ones((3, 3), np.float32)}, "depth"),
    ]).write(str(path))
    assert_exr_error(path, "channels of different sizes", "data windows")


def test_zero_size_data_window(tmp_path):
    data = good_file_bytes(tmp_path)
    path = tmp_path / "empty.exr"
    path.write_bytes(patch_attribute(data, "dataWindow", "box2i",
                                     struct.pack("<4i", 0, 0, -1, H - 1)))
    assert_exr_error(path, "empty data window")
    with pytest.raises(ExrError, match="empty data window"):
        read_header(path)


def test_nonfinite_counted_warned_and_kept(tmp_path):
    frame = make_frame()
    frame.color[0, 0, 0] = np.nan
    frame.color[1, 2] = [np.inf, -np.inf, np.nan]
    frame.albedo[3, 3, 1] = np.nan
    path = tmp_path / "nan.exr"
    write_frame(frame, path, precision="float")
    with pytest.warns(RuntimeWarning, match="nan.exr"):
        back = read_frame(path)
    assert back.metadata["nonfinite"] == {"color": 4, "albedo": 1}
    np.testing.assert_array_equal(back.color, frame.color)  # NaNs compare equal here
    np.testing.assert_array_equal(back.albedo, frame.albedo)


# --- atomic writes ---

def test_failed_write_leaves_destination_and_no_temp(tmp_path, monkeypatch):
    dest = tmp_path / "out.exr"
    dest.write_bytes(b"previous contents")
    real_write = OpenEXR.File.write

    def write_then_fail(self, filename):
        real_write(self, filename)  # a complete temp file exists when the failure hits
        raise RuntimeError("disk full")

    monkeypatch.setattr(OpenEXR.File, "write", write_then_fail)
    with pytest.raises(ExrError, match="disk full") as info:
        write_frame(make_frame(), dest)
    assert info.value.path == str(dest)
    assert dest.read_bytes() == b"previous contents"
    assert [p.name for p in tmp_path.iterdir()] == ["out.exr"]


def test_unwritable_attribute_fails_cleanly(tmp_path):
    dest = tmp_path / "out.exr"
    dest.write_bytes(b"previous contents")
    frame = make_frame(exr_attributes={"weird": object()})
    with pytest.raises(ExrError, match="cannot write"):
        write_frame(frame, dest)
    assert dest.read_bytes() == b"previous contents"
    assert [p.name for p in tmp_path.iterdir()] == ["out.exr"]


def test_successful_write_replaces_and_leaves_no_temp(tmp_path):
    dest = tmp_path / "out.exr"
    dest.write_bytes(b"previous contents")
    write_frame(make_frame(), dest)
    assert read_frame(dest).color.shape == (H, W, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["out.exr"]


# --- header only ---

def test_read_header_good_file(tmp_path):
    path = tmp_path / "h.exr"
    write_raw(path, {**rgb(dtype=np.float16), "id": np.zeros((H, W), np.uint32)},
              {"comment": "hello"})
    header = read_header(path)
    assert (header["width"], header["height"]) == (W, H)
    assert header["channels"] == {"B": "half", "G": "half", "R": "half", "id": "uint"}
    assert header["data_window"] == ((0, 0), (W - 1, H - 1))
    assert header["storage"] == "scanlineimage" and header["parts"] == 1
    assert header["attributes"]["comment"] == "string"


def crafted_header(width: int, height: int) -> bytes:
    def attr(name, kind, value):
        return name.encode() + b"\0" + kind.encode() + b"\0" + struct.pack("<i", len(value)) + value

    chlist = b"".join(c.encode() + b"\0" + struct.pack("<iB3xii", 1, 0, 1, 1) for c in "BGR")
    box = struct.pack("<4i", 0, 0, width - 1, height - 1)
    return (b"\x76\x2f\x31\x01" + struct.pack("<i", 2)
            + attr("channels", "chlist", chlist + b"\0")
            + attr("compression", "compression", b"\x03")
            + attr("dataWindow", "box2i", box) + attr("displayWindow", "box2i", box)
            + attr("lineOrder", "lineOrder", b"\0")
            + attr("pixelAspectRatio", "float", struct.pack("<f", 1.0))
            + attr("screenWindowCenter", "v2f", struct.pack("<2f", 0, 0))
            + attr("screenWindowWidth", "float", struct.pack("<f", 1.0)) + b"\0")


def test_read_header_huge_declared_size_without_allocating(tmp_path):
    path = tmp_path / "bomb.exr"
    path.write_bytes(crafted_header(100_000, 100_000))
    tracemalloc.start()
    try:
        header = read_header(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (header["width"], header["height"]) == (100_000, 100_000)
    assert header["channels"] == {"B": "half", "G": "half", "R": "half"}
    assert peak < 1_000_000
    assert_exr_error(path, "truncated")  # and read_frame refuses before decoding anything
