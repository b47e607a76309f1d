"""Transforms and generated triangle meshes for the scene families.

Conventions: right-handed coordinates, +Y up, lengths in metres (scene units). Transforms are
(4, 4) float64 matrices acting on column vectors; ``compose(a, b)`` applies ``a`` first, then
``b``. Meshes are :class:`MeshData`: vertices (N, 3), faces (M, 3) counter-clockwise seen from
the side the normals point to, per-vertex normals (N, 3) and texture coordinates (N, 2).
Boxes, panels and walls get *metric* UVs (one unit = one metre) so that a texture's repeat
length is set once by the material (``to_uv``), whatever the size of the object.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# --------------------------------------------------------------------------- transforms


def translate(x, y=None, z=None) -> np.ndarray:
    """Translation by (x, y, z) metres (or by a 3-vector given as ``x``)."""
    offset = np.asarray(x, dtype=np.float64) if y is None else np.array([x, y, z], dtype=np.float64)
    m = np.eye(4)
    m[:3, 3] = offset
    return m


def scale(sx, sy=None, sz=None) -> np.ndarray:
    """Scale by one factor, or by (sx, sy, sz), or by a 3-vector given as ``sx``."""
    if sy is None:
        s = np.broadcast_to(np.asarray(sx, dtype=np.float64), (3,))
    else:
        s = np.array([sx, sy, sz], dtype=np.float64)
    return np.diag([s[0], s[1], s[2], 1.0])


def rotate(axis, degrees: float) -> np.ndarray:
    """Right-handed rotation by ``degrees`` about ``axis`` (a 3-vector through the origin)."""
    a = np.asarray(axis, dtype=np.float64)
    a = a / np.linalg.norm(a)
    t = np.radians(degrees)
    c, s = np.cos(t), np.sin(t)
    x, y, z = a
    r = np.array([
        [c + x * x * (1 - c), x * y * (1 - c) - z * s, x * z * (1 - c) + y * s],
        [y * x * (1 - c) + z * s, c + y * y * (1 - c), y * z * (1 - c) - x * s],
        [z * x * (1 - c) - y * s, z * y * (1 - c) + x * s, c + z * z * (1 - c)],
    ])
    m = np.eye(4)
    m[:3, :3] = r
    return m


def look_at(origin, target, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """Camera-to-world matrix as Mitsuba's ``look_at``: local +Z towards ``target``.

    Columns are (left, up', forward, origin), matching ``mi.ScalarTransform4f().look_at``.
    """
    origin = np.asarray(origin, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - origin
    forward /= np.linalg.norm(forward)
    left = np.cross(np.asarray(up, dtype=np.float64), forward)
    if np.linalg.norm(left) < 1e-9:  # looking straight along ``up``: any perpendicular works
        left = np.cross([1.0, 0.0, 0.0] if abs(forward[0]) < 0.9 else [0.0, 0.0, 1.0], forward)
    left /= np.linalg.norm(left)
    new_up = np.cross(forward, left)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = left, new_up, forward, origin
    return m


def compose(*transforms: np.ndarray) -> np.ndarray:
    """One matrix applying ``transforms`` in the order given (the first is applied first)."""
    m = np.eye(4)
    for t in transforms:
        m = np.asarray(t, dtype=np.float64) @ m
    return m


def apply_points(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 3) points transformed by (4, 4) ``m``."""
    points = np.asarray(points, dtype=np.float64)
    return points @ m[:3, :3].T + m[:3, 3]


def apply_normals(m: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """(N, 3) unit normals transformed by the inverse transpose of ``m``'s linear part."""
    n = np.asarray(normals, dtype=np.float64) @ np.linalg.inv(m[:3, :3])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def normalize(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


# --------------------------------------------------------------------------- mesh data


@dataclass
class MeshData:
    """A triangle mesh: vertices (N, 3), faces (M, 3) int, normals (N, 3), uvs (N, 2)."""

    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    uvs: np.ndarray

    def transformed(self, m: np.ndarray) -> "MeshData":
        """The mesh moved by (4, 4) ``m`` (a mirroring ``m`` also flips the winding)."""
        faces = self.faces if np.linalg.det(m[:3, :3]) > 0 else self.faces[:, ::-1]
        return MeshData(apply_points(m, self.vertices), faces, apply_normals(m, self.normals), self.uvs)

    def flipped(self) -> "MeshData":
        """The same surface facing the other way."""
        return MeshData(self.vertices, self.faces[:, ::-1], -self.normals, self.uvs)

    def with_uvs(self, uvs: np.ndarray) -> "MeshData":
        return MeshData(self.vertices, self.faces, self.normals, np.asarray(uvs))

    def signed_volume(self) -> float:
        """Volume enclosed (positive when a closed mesh's faces point outwards), m^3."""
        v = self.vertices[self.faces]
        return float(np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() / 6.0)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.vertices.min(axis=0), self.vertices.max(axis=0)

    def to_shape(self, bsdf: dict, emitter: dict | None = None, id: str = "mesh") -> dict:
        """The scene-dict entry ({'type': 'mesh', ...}) for the renderer backend."""
        shape = {
            "type": "mesh", "id": id,
            "vertices": self.vertices.astype(np.float32),
            "faces": self.faces.astype(np.uint32),
            "normals": self.normals.astype(np.float32),
            "uvs": self.uvs.astype(np.float32),
            "bsdf": bsdf,
        }
        if emitter is not None:
            shape["emitter"] = emitter
        return shape


def concat(meshes: list[MeshData]) -> MeshData:
    """One mesh holding all of ``meshes``."""
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    return MeshData(
        np.concatenate([m.vertices for m in meshes]),
        np.concatenate([m.faces + o for m, o in zip(meshes, offsets)]),
        np.concatenate([m.normals for m in meshes]),
        np.concatenate([m.uvs for m in meshes]),
    )


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals (N, 3) of a triangle mesh."""
    v = vertices[faces]
    face_n = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    idx = faces.reshape(-1)
    n = np.stack([np.bincount(idx, np.repeat(face_n[:, c], 3), minlength=len(vertices)) for c in range(3)], 1)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    fallback = np.array([0.0, 1.0, 0.0])
    return np.where(length > 1e-20, n / np.maximum(length, 1e-30), fallback)


def flat_shaded(mesh: MeshData) -> MeshData:
    """Each triangle with its own vertices and face normal (faceted look, crisp edges)."""
    idx = mesh.faces.reshape(-1)
    v = mesh.vertices[idx]
    tri = v.reshape(-1, 3, 3)
    fn = normalize(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]))
    return MeshData(v, np.arange(len(idx)).reshape(-1, 3), np.repeat(fn, 3, axis=0), mesh.uvs[idx])


# --------------------------------------------------------------------------- flat pieces


def panel(width: float, height: float) -> MeshData:
    """Rectangle [0, width] x [0, height] in the XY plane facing +Z, metric UVs."""
    v = np.array([[0, 0, 0], [width, 0, 0], [width, height, 0], [0, height, 0]], dtype=np.float64)
    return MeshData(v, np.array([[0, 1, 2], [0, 2, 3]]), np.tile([0.0, 0.0, 1.0], (4, 1)), v[:, :2].copy())


def panel_with_holes(width: float, height: float, holes: list[tuple[float, float, float, float]]) -> MeshData:
    """Rectangle [0, width] x [0, height] in the XY plane facing +Z, minus rectangular holes.

    ``holes``: (x0, x1, y0, y1) in metres, inside the rectangle. The panel is cut into the grid
    of all hole edges and the cells inside a hole are dropped, so there are no T-junction gaps.
    """
    xs = np.unique(np.clip([0.0, width] + [h[i] for h in holes for i in (0, 1)], 0, width))
    ys = np.unique(np.clip([0.0, height] + [h[i] for h in holes for i in (2, 3)], 0, height))
    cx, cy = (xs[:-1] + xs[1:]) / 2, (ys[:-1] + ys[1:]) / 2
    keep = np.ones((len(cy), len(cx)), dtype=bool)
    for x0, x1, y0, y1 in holes:
        keep &= ~((cx[None, :] > x0) & (cx[None, :] < x1) & (cy[:, None] > y0) & (cy[:, None] < y1))
    gx, gy = np.meshgrid(xs, ys)
    verts = np.stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)], axis=1)
    nx = len(xs)
    j, i = np.nonzero(keep)  # j: row (y), i: column (x)
    a = j * nx + i
    b, c, d = a + 1, a + 1 + nx, a + nx
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return MeshData(verts, faces, np.tile([0.0, 0.0, 1.0], (len(verts), 1)), verts[:, :2].copy())


# Faces of the unit cube: (normal, u axis, v axis) with u x v = normal (counter-clockwise).
_BOX_FACES = np.array([
    [[0, 0, 1], [1, 0, 0], [0, 1, 0]], [[0, 0, -1], [-1, 0, 0], [0, 1, 0]],
    [[1, 0, 0], [0, 0, -1], [0, 1, 0]], [[-1, 0, 0], [0, 0, 1], [0, 1, 0]],
    [[0, 1, 0], [1, 0, 0], [0, 0, -1]], [[0, -1, 0], [1, 0, 0], [0, 0, 1]],
], dtype=np.float64)
_BOX_CORNERS = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64) / 2
_BOX_FACES_IDX = (np.array([[0, 1, 2], [0, 2, 3]])[None] + 4 * np.arange(6)[:, None, None]).reshape(-1, 3)


def box(size, center=(0.0, 0.0, 0.0)) -> MeshData:
    """Axis-aligned box of ``size`` (sx, sy, sz) metres around ``center``; outward faces, metric UVs."""
    s = np.asarray(size, dtype=np.float64)
    n, ua, va = _BOX_FACES[:, 0], _BOX_FACES[:, 1], _BOX_FACES[:, 2]
    cu, cv = _BOX_CORNERS[:, 0], _BOX_CORNERS[:, 1]
    verts = (n[:, None, :] * 0.5 + cu[None, :, None] * ua[:, None, :] + cv[None, :, None] * va[:, None, :]) * s
    lu = np.abs(ua) @ s  # face extents along its u and v axes
    lv = np.abs(va) @ s
    uvs = np.stack([(cu[None, :] + 0.5) * lu[:, None], (cv[None, :] + 0.5) * lv[:, None]], -1)
    return MeshData(verts.reshape(-1, 3) + np.asarray(center, dtype=np.float64), _BOX_FACES_IDX.copy(),
                    np.repeat(n, 4, axis=0), uvs.reshape(-1, 2))


# --------------------------------------------------------------------------- parametric surfaces


def grid_surface(points: np.ndarray, wrap_u: bool = False, wrap_v: bool = False,
                 uv_scale=(1.0, 1.0)) -> MeshData:
    """Mesh of a (nv, nu, 3) grid of points with smooth vertex normals.

    With ``wrap_u`` the last column connects back to the first (the grid must not repeat
    it); likewise ``wrap_v`` for rows. Rows whose points all coincide (poles) are welded so
    that their normal is shared. Seam vertices are duplicated so that UVs (u, v in [0, 1],
    times ``uv_scale``) stay continuous. Faces are wound so that normals point along
    cross(dP/du, dP/dv), u along columns and v along rows.
    """
    nv, nu, _ = points.shape
    ids = np.arange(nv * nu).reshape(nv, nu)
    collapsed = (points.max(axis=1) - points.min(axis=1)).max(axis=1) < 1e-9  # poles, cap centres
    ids[collapsed] = ids[collapsed, :1]  # weld them
    flat = points.reshape(-1, 3)
    ev, eu = nv + int(wrap_v), nu + int(wrap_u)  # extended grid with seam duplicates
    rr, cc = np.meshgrid(np.arange(ev), np.arange(eu), indexing="ij")
    ext_ids = ids[rr % nv, cc % nu]
    r0, c0 = np.meshgrid(np.arange(ev - 1), np.arange(eu - 1), indexing="ij")
    a, b = ext_ids[r0, c0], ext_ids[r0, c0 + 1]
    c, d = ext_ids[r0 + 1, c0 + 1], ext_ids[r0 + 1, c0]
    welded_faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    normals = vertex_normals(flat, welded_faces)
    # Output vertices: the extended grid (so UVs are continuous across seams).
    out_ids = np.arange(ev * eu).reshape(ev, eu)
    a, b = out_ids[r0, c0], out_ids[r0, c0 + 1]
    c, d = out_ids[r0 + 1, c0 + 1], out_ids[r0 + 1, c0]
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    # Drop triangles that collapse onto a pole.
    src = ext_ids.reshape(-1)
    fs = src[faces]
    good = (fs[:, 0] != fs[:, 1]) & (fs[:, 1] != fs[:, 2]) & (fs[:, 0] != fs[:, 2])
    tri = flat[fs]  # and the zero-area ones between repeated profile rows (creases)
    area2 = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    good &= area2 > 1e-12 * max(float(np.ptp(flat, axis=0).max()) ** 2, 1e-30)
    u = cc / max(nu if wrap_u else nu - 1, 1)
    v = rr / max(nv if wrap_v else nv - 1, 1)
    uvs = np.stack([u.ravel() * uv_scale[0], v.ravel() * uv_scale[1]], axis=1)
    return MeshData(flat[src], faces[good], normals[src], uvs)


def lathe(radius, height, segments: int = 48, uv_scale=(1.0, 1.0)) -> MeshData:
    """Surface of revolution about +Y of the profile (radius[k], height[k]), k along the curve.

    Normals point to the right of the profile's direction of travel when seen with +Y up and
    the radius increasing to the right: a profile going up on the outside of a vase faces
    outwards. Repeat a profile point to get a crisp crease there (cap edges).
    """
    r = np.asarray(radius, dtype=np.float64)
    h = np.asarray(height, dtype=np.float64)
    phi = np.arange(segments) / segments * 2 * np.pi
    # -sin for z: with u increasing that way, cross(dP/du, dP/dv) points away from the axis
    # for a profile travelling upwards (see grid_surface's winding).
    pts = np.stack([r[:, None] * np.cos(phi)[None], np.broadcast_to(h[:, None], (len(r), segments)),
                    -r[:, None] * np.sin(phi)[None]], axis=-1)
    return grid_surface(pts, wrap_u=True, uv_scale=uv_scale)


@lru_cache(maxsize=64)
def _unit_cylinder(segments: int, caps: bool) -> MeshData:
    if caps:
        return lathe([0, 1, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1], segments)
    return lathe([1, 1], [0, 1], segments)


def cylinder(radius: float, height: float, segments: int = 32, caps: bool = True) -> MeshData:
    """Closed cylinder from y=0 to y=height about +Y, crisp cap edges, outward normals."""
    return _unit_cylinder(segments, caps).transformed(scale(radius, height, radius))


def cone_frustum(r0: float, r1: float, height: float, segments: int = 32, caps: bool = True) -> MeshData:
    """Frustum from radius r0 at y=0 to r1 at y=height, closed by caps when ``caps``."""
    if caps:
        return lathe([0, r0, r0, r1, r1, 0], [0, 0, 0, height, height, height], segments)
    return lathe([r0, r1], [0, height], segments)


def uv_sphere_points(nu: int, nv: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit-sphere grid (nv, nu, 3) from the south pole up, plus the (theta, phi) grids."""
    theta = np.linspace(np.pi, 0.0, nv)  # polar angle from +Y; start at the south pole
    phi = np.arange(nu) / nu * 2 * np.pi
    t, p = np.meshgrid(theta, phi, indexing="ij")
    pts = np.stack([np.sin(t) * np.cos(p), np.cos(t), -np.sin(t) * np.sin(p)], axis=-1)
    return pts, t, p


def sphere(radius: float = 1.0, nu: int = 48, nv: int = 25) -> MeshData:
    """UV sphere about the origin (as a mesh, so it can be displaced or textured by UV)."""
    pts, _, _ = uv_sphere_points(nu, nv)
    return grid_surface(pts * radius, wrap_u=True)


def superquadric(size=(1.0, 1.0, 1.0), e1: float = 0.3, e2: float = 0.3, nu: int = 48, nv: int = 33) -> MeshData:
    """Superellipsoid with half-extents ``size``; e -> 0 is boxy, 1 a sphere, 2 an octahedron.

    e1 shapes the vertical profile, e2 the horizontal section. Rounded boxes (e ~ 0.1-0.3)
    make cushions, mattresses, soap bars and pebbles.
    """
    _, t, p = uv_sphere_points(nu, nv)

    def spow(x, e):
        return np.sign(x) * np.abs(x) ** e

    lat = np.pi / 2 - t  # latitude in [-pi/2, pi/2]
    x = spow(np.cos(lat), e1) * spow(np.cos(p), e2)
    z = -spow(np.cos(lat), e1) * spow(np.sin(p), e2)
    y = spow(np.sin(lat), e1)
    pts = np.stack([x * size[0], y * size[1], z * size[2]], axis=-1)
    return grid_surface(pts, wrap_u=True)


def blob(rng: np.random.Generator, radius: float = 1.0, roughness: float = 0.25, lobes: int = 6,
         nu: int = 64, nv: int = 33) -> MeshData:
    """A sphere displaced by a smooth random field: pebbles, potatoes, abstract sculptures.

    The field is a sum of ``lobes`` sinusoids along random directions with random phases;
    ``roughness`` is the relative displacement amplitude (0.25 = +-25 % of ``radius``).
    """
    pts, _, _ = uv_sphere_points(nu, nv)
    dirs = normalize(rng.normal(size=(lobes, 3)))
    freq = rng.uniform(1.0, 3.5, size=lobes)
    phase = rng.uniform(0, 2 * np.pi, size=lobes)
    amp = rng.uniform(0.3, 1.0, size=lobes) / np.sqrt(lobes)
    field = np.sin((pts @ dirs.T) * freq * np.pi + phase) @ amp
    r = radius * (1.0 + roughness * field)
    return grid_surface(pts * r[..., None], wrap_u=True)


def torus(major: float = 1.0, minor: float = 0.3, nu: int = 64, nv: int = 32) -> MeshData:
    """Torus about +Y with ring radius ``major`` and tube radius ``minor``, outward normals."""
    u = np.arange(nu) / nu * 2 * np.pi
    v = np.arange(nv) / nv * 2 * np.pi
    vv, uu = np.meshgrid(v, u, indexing="ij")
    ring = major + minor * np.cos(vv)
    pts = np.stack([ring * np.cos(uu), minor * np.sin(vv), -ring * np.sin(uu)], axis=-1)
    return grid_surface(pts, wrap_u=True, wrap_v=True, uv_scale=(4.0, 1.0))


def tube(curve: np.ndarray, radius, closed: bool = False, sides: int = 16, caps: bool = True) -> MeshData:
    """A tube of ``radius`` (scalar or per point) swept along ``curve`` (K, 3).

    Frames are parallel-transported along the curve so the tube does not twist; for closed
    curves the residual twist is spread evenly. Open tubes get flat caps when ``caps``.
    """
    c = np.asarray(curve, dtype=np.float64)
    k = len(c)
    if closed:
        tangent = normalize(np.roll(c, -1, 0) - np.roll(c, 1, 0))
    else:
        tangent = normalize(np.gradient(c, axis=0))
    normal = np.zeros_like(c)
    ref = np.array([0.0, 1.0, 0.0]) if abs(tangent[0, 1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    normal[0] = normalize(np.cross(np.cross(tangent[0], ref), tangent[0]))
    for i in range(1, k):
        n = normal[i - 1] - tangent[i] * np.dot(normal[i - 1], tangent[i])
        normal[i] = n / max(np.linalg.norm(n), 1e-12)
    binormal = np.cross(tangent, normal)
    angle0 = np.zeros(k)
    if closed:  # distribute the holonomy twist so the seam closes
        n_end = normal[-1] - tangent[0] * np.dot(normal[-1], tangent[0])
        twist = np.arctan2(np.dot(np.cross(n_end, normal[0]), tangent[0]), np.dot(n_end, normal[0]))
        angle0 = np.linspace(0, twist, k, endpoint=False)
    rad = np.broadcast_to(np.asarray(radius, dtype=np.float64), (k,))
    a = np.arange(sides) / sides * 2 * np.pi
    ang = angle0[:, None] + a[None, :]
    offs = (np.cos(ang)[..., None] * normal[:, None] + np.sin(ang)[..., None] * binormal[:, None])
    pts = c[:, None, :] + rad[:, None, None] * offs
    # v runs along the curve (rows), u around the tube (columns).
    mesh = grid_surface(pts, wrap_u=True, wrap_v=closed)
    if _points_inward(mesh, c):
        mesh = mesh.flipped()
    if not closed and caps:
        parts = [mesh]
        for end, sign in ((0, -1.0), (k - 1, 1.0)):
            ring = pts[end]
            centre = c[end]
            verts = np.concatenate([centre[None], ring])
            idx = np.arange(1, sides + 1)
            faces = np.stack([np.zeros(sides, int), idx, np.roll(idx, -1)], 1)
            n = tangent[end] * sign
            fn = np.cross(verts[faces[0, 1]] - verts[0], verts[faces[0, 2]] - verts[0])
            if np.dot(fn, n) < 0:
                faces = faces[:, ::-1]
            uv = np.concatenate([[[0.5, 0.5]], 0.5 + 0.5 * np.stack([np.cos(a), np.sin(a)], 1)])
            parts.append(MeshData(verts, faces, np.tile(n, (len(verts), 1)), uv))
        mesh = concat(parts)
    return mesh


def _points_inward(mesh: MeshData, centres: np.ndarray) -> bool:
    """True when a tube's normals point towards its centre line (wrong way round)."""
    probe = mesh.vertices[: min(64, len(mesh.vertices))]
    d = ((probe[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    nearest = centres[d.argmin(1)]
    return float(np.einsum("ij,ij->i", mesh.normals[: len(probe)], probe - nearest).sum()) < 0


def torus_knot(p: int = 2, q: int = 3, major: float = 1.0, minor: float = 0.4, tube_radius: float = 0.15,
               samples: int = 256, sides: int = 16) -> MeshData:
    """(p, q) torus knot swept as a tube; about 2 * (major + minor) across."""
    t = np.arange(samples) / samples * 2 * np.pi
    r = major + minor * np.cos(q * t)
    curve = np.stack([r * np.cos(p * t), minor * np.sin(q * t), -r * np.sin(p * t)], 1)
    return tube(curve, tube_radius, closed=True, sides=sides)


def twisted_prism(sides: int = 5, radius: float = 0.5, height: float = 1.0, twist_deg: float = 90.0,
                  star: float = 0.0, rows: int = 24) -> MeshData:
    """A regular polygon (or a star with inner radius ``radius * (1 - star)``) extruded up
    ``height`` with a twist, flat-shaded, closed by caps."""
    n = sides * (2 if star > 0 else 1)
    ang = np.arange(n) / n * 2 * np.pi
    rad = np.full(n, radius)
    if star > 0:
        rad[1::2] *= 1.0 - star
    y = np.linspace(0, height, rows)
    tw = np.radians(twist_deg) * y / height
    a = ang[None, :] + tw[:, None]
    side = np.stack([rad[None] * np.cos(a), np.broadcast_to(y[:, None], a.shape), -rad[None] * np.sin(a)], -1)
    centre_b = np.zeros((1, n, 3))
    centre_t = np.zeros((1, n, 3)); centre_t[..., 1] = height
    pts = np.concatenate([centre_b, side[:1], side, side[-1:], centre_t])
    return flat_shaded(grid_surface(pts, wrap_u=True))


def heightfield(heights: np.ndarray, size_x: float, size_z: float) -> MeshData:
    """Terrain from a (nz, nx) height grid (metres) over [-size_x/2, size_x/2] x [-size_z/2,
    size_z/2], facing +Y, metric UVs."""
    nz, nx = heights.shape
    x = np.linspace(-size_x / 2, size_x / 2, nx)
    z = np.linspace(-size_z / 2, size_z / 2, nz)
    gx, gz = np.meshgrid(x, z)
    pts = np.stack([gx, heights, gz], -1)
    mesh = grid_surface(pts)
    if mesh.normals[:, 1].mean() < 0:
        mesh = mesh.flipped()
    return mesh.with_uvs(np.stack([mesh.vertices[:, 0], mesh.vertices[:, 2]], 1))


def curtain(width: float, height: float, folds: int, depth: float, rows: int = 8, cols_per_fold: int = 8) -> MeshData:
    """A pleated curtain in the XY plane (x in [0, width], y in [0, height]) waving in Z by
    +-depth/2, facing +Z; use a two-sided material."""
    nx = max(folds * cols_per_fold, 2)
    x = np.linspace(0, width, nx)
    y = np.linspace(0, height, rows)
    gx, gy = np.meshgrid(x, y)
    gz = 0.5 * depth * np.sin(gx / width * folds * 2 * np.pi)
    mesh = grid_surface(np.stack([gx, gy, gz], -1))
    if mesh.normals[:, 2].mean() < 0:
        mesh = mesh.flipped()
    return mesh.with_uvs(np.stack([mesh.vertices[:, 0], mesh.vertices[:, 1]], 1))


def side_transform(side: str, width: float, height: float, depth: float) -> np.ndarray:
    """(4, 4) matrix taking a side's panel coordinates (u, v, w) to world: (u, v) as in
    :func:`room_sides`, w along the side's inward normal (w < 0 is inside the wall)."""
    w, h, d = width, height, depth
    return {
        "floor": compose(rotate([1, 0, 0], -90), translate(-w / 2, 0, d / 2)),
        "ceiling": compose(rotate([1, 0, 0], 90), translate(-w / 2, h, -d / 2)),
        "back": translate(-w / 2, 0, -d / 2),
        "front": compose(rotate([0, 1, 0], 180), translate(w / 2, 0, d / 2)),
        "left": compose(rotate([0, 1, 0], 90), translate(-w / 2, 0, d / 2)),
        "right": compose(rotate([0, 1, 0], -90), translate(w / 2, 0, -d / 2)),
    }[side]


def side_extent(side: str, width: float, height: float, depth: float) -> tuple[float, float]:
    """(u length, v length) of a side of :func:`room_sides`, metres."""
    return {"floor": (width, depth), "ceiling": (width, depth), "back": (width, height),
            "front": (width, height), "left": (depth, height), "right": (depth, height)}[side]


def room_sides(width: float, height: float, depth: float, holes: dict | None = None,
               sides: tuple[str, ...] = ("floor", "ceiling", "back", "front", "left", "right")) -> dict[str, MeshData]:
    """The inward-facing sides of a room spanning x in [-w/2, w/2], y in [0, h],
    z in [-d/2, d/2]: 'floor', 'ceiling', 'back' (z = -d/2), 'front' (z = +d/2), 'left'
    (x = -w/2) and 'right' (x = +w/2).

    ``holes`` maps a side to (u0, u1, v0, v1) rectangles in that side's panel coordinates
    (metres; v is height on walls): for 'back' u runs along +x, for 'front' along -x, for
    'left' along -z, for 'right' along +z; for 'floor' (u, v) = (x + w/2, d/2 - z), for
    'ceiling' (x + w/2, z + d/2). UVs are metric in the same coordinates.
    """
    holes = holes or {}
    out = {}
    for side in sides:
        pw, ph = side_extent(side, width, height, depth)
        piece = panel_with_holes(pw, ph, holes[side]) if holes.get(side) else panel(pw, ph)
        out[side] = piece.transformed(side_transform(side, width, height, depth))
    return out


def quad(p0, p1, p2, p3, towards=None) -> MeshData:
    """Planar quad through four corners (in order round the edge), metric UVs along p0->p1
    and p0->p3; facing the side of ``towards`` (a point) when given."""
    v = np.array([p0, p1, p2, p3], dtype=np.float64)
    n = normalize(np.cross(v[1] - v[0], v[3] - v[0]))
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    if towards is not None and np.dot(np.asarray(towards, float) - v.mean(0), n) < 0:
        faces, n = faces[:, ::-1], -n
    eu = normalize(v[1] - v[0])
    ev = normalize(v[3] - v[0])
    uv = np.stack([(v - v[0]) @ eu, (v - v[0]) @ ev], 1)
    return MeshData(v, faces, np.tile(n, (4, 1)), uv)


def side_point(side: str, u: float, v: float, width: float, height: float, depth: float) -> np.ndarray:
    """World position of panel coordinates (u, v) on a side of :func:`room_sides`."""
    w, d = width, depth
    return {
        "floor": np.array([u - w / 2, 0.0, d / 2 - v]),
        "ceiling": np.array([u - w / 2, height, v - d / 2]),
        "back": np.array([u - w / 2, v, -d / 2]),
        "front": np.array([w / 2 - u, v, d / 2]),
        "left": np.array([-w / 2, v, d / 2 - u]),
        "right": np.array([w / 2, v, u - d / 2]),
    }[side]


SIDE_NORMALS = {  # inward normals of room_sides
    "floor": np.array([0.0, 1.0, 0.0]), "ceiling": np.array([0.0, -1.0, 0.0]),
    "back": np.array([0.0, 0.0, 1.0]), "front": np.array([0.0, 0.0, -1.0]),
    "left": np.array([1.0, 0.0, 0.0]), "right": np.array([-1.0, 0.0, 0.0]),
}


def ground(half_size: float, y: float = 0.0) -> MeshData:
    """A square floor of half-width ``half_size`` at height ``y`` facing +Y with metric UVs
    (Mitsuba's disk and rectangle have polar / unit UVs, which distort tiled textures)."""
    s = half_size
    v = np.array([[-s, y, s], [s, y, s], [s, y, -s], [-s, y, -s]], dtype=np.float64)
    return MeshData(v, np.array([[0, 1, 2], [0, 2, 3]]), np.tile([0.0, 1.0, 0.0], (4, 1)),
                    np.stack([v[:, 0], -v[:, 2]], 1))
