"""A wide-gamut ICC profile for tests: Pillow's ImageCms builds only sRGB, LAB and XYZ profiles, so a matrix/TRC
display profile (ICC v2, the kind cameras and phones embed) is written here from its primaries, and checked by
loading it with ImageCms.

`linear_to_srgb_matrix` gives the expected conversion independently of LittleCMS: both profiles share D65 white,
so the D50 adaptation of the ICC connection space cancels and the colour math is one 3 x 3 matrix.
"""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import ImageCms

D65 = (0.3127, 0.3290)
D50_XYZ = np.array([0.9642, 1.0, 0.8249])
DISPLAY_P3 = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
ADOBE_RGB = ((0.640, 0.330), (0.210, 0.710), (0.150, 0.060))
SRGB = ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060))
_BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])


def _xyz(xy: tuple[float, float]) -> np.ndarray:
    x, y = xy
    return np.array([x / y, 1.0, (1 - x - y) / y])


def rgb_to_xyz(primaries: tuple[tuple[float, float], ...], white: tuple[float, float] = D65) -> np.ndarray:
    """Linear RGB -> XYZ (white-point relative) from a colour space's chromaticities."""
    columns = np.stack([_xyz(p) for p in primaries], axis=1)
    scale = np.linalg.solve(columns, _xyz(white))
    return columns * scale


def linear_to_srgb_matrix(primaries: tuple[tuple[float, float], ...]) -> np.ndarray:
    return np.linalg.inv(rgb_to_xyz(SRGB)) @ rgb_to_xyz(primaries)


def srgb_decode(values: np.ndarray) -> np.ndarray:
    v = values / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    v = np.clip(linear, 0.0, 1.0)
    return 255.0 * np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz_tag(xyz: np.ndarray) -> bytes:
    return b"XYZ " + b"\0" * 4 + b"".join(_s15(float(v)) for v in xyz)


def _srgb_curve(points: int = 1024) -> bytes:
    table = srgb_decode(np.linspace(0, 255, points))
    values = b"".join(struct.pack(">H", round(v * 65535)) for v in table)
    return b"curv" + b"\0" * 4 + struct.pack(">I", points) + values


def _text_description(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    return b"desc" + b"\0" * 4 + struct.pack(">I", len(ascii_text)) + ascii_text + b"\0" * 8 + b"\0" * 3 + b"\0" * 67


def matrix_profile(primaries: tuple[tuple[float, float], ...], name: str) -> bytes:
    """ICC v2 display profile: the given primaries with D65 white (adapted to D50 by Bradford) and sRGB's curve."""
    cone_source = _BRADFORD @ (_xyz(D65))
    cone_target = _BRADFORD @ D50_XYZ
    adapt = np.linalg.inv(_BRADFORD) @ np.diag(cone_target / cone_source) @ _BRADFORD
    colorants = adapt @ rgb_to_xyz(primaries)
    curve = _srgb_curve()
    tags = [
        (b"desc", _text_description(name)),
        (b"cprt", b"text" + b"\0" * 4 + b"No copyright, test data\0"),
        (b"wtpt", _xyz_tag(D50_XYZ)),
        (b"rXYZ", _xyz_tag(colorants[:, 0])),
        (b"gXYZ", _xyz_tag(colorants[:, 1])),
        (b"bXYZ", _xyz_tag(colorants[:, 2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"lcms"
        + bytes([2, 0x10, 0, 0])
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2026, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\0" * 24  # platform, flags, manufacturer, model, attributes
        + struct.pack(">I", 0)  # perceptual intent
        + b"".join(_s15(float(v)) for v in D50_XYZ)
        + b"\0" * 4  # creator
        + b"\0" * 44  # profile id and reserved
    )
    assert len(header) == 128
    profile = header + struct.pack(">I", len(tags)) + table + body
    ImageCms.ImageCmsProfile(io.BytesIO(profile))  # LittleCMS reads it, or this raises
    return profile
