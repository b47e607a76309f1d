"""Which albedo the aux pass renders: what a surface does to the light that reaches it.

A frame's ``metadata["albedo"]`` names the kind; a dataset holds one kind (dataset.json) and a
model card records the kind it was trained on, since a network trained on one misreads the other.

- ``"diffuse"``: Mitsuba's ``albedo`` AOV (``BSDF::eval_diffuse_reflectance``). It is the
  diffuse base colour of a plastic only, so under a glossy coat it shows the base's texture
  while the pixel shows mostly the coat's reflection; it is black on mirrors, glass and smooth
  metals, and an arbitrary value on rough metals. The project's renders before 2026-12 used it.
- ``"directional"``: the directional albedo of the first surface hit, rho(wi) = integral of
  f(wi, wo) cos(wo) over wo, estimated per sample by one BSDF sample, whose weight
  f cos / pdf has exactly that mean. A diffuse surface gives its reflectance with no noise; a
  coated one its coat's Fresnel reflectance plus what its base adds; a metal its Fresnel
  colour; glass about 1 (reflection plus transmission); a hole of a cut-out (a mask BSDF's
  null lobe) the albedo of what is seen through it. That is the albedo OIDN asks renderers
  for (the sum of the lobes' albedos, metals and glass included), and what the AOVs of
  production renderers give artists.
"""
from __future__ import annotations

KINDS = ("diffuse", "directional")
# What renders get unless told: the kind the shipped model was trained on.
DEFAULT = "diffuse"
# Datasets, frames and model cards from before the kind was recorded used Mitsuba's AOV.
LEGACY = "diffuse"
PLUGIN = "mcdenoise_directional_albedo"
# Cut-out holes looked through before giving up (then: 0, as where a ray leaves the scene).
PASS_THROUGH = 4
# The --albedo flag's help, wherever renders are made.
HELP = ("the albedo buffer: diffuse, Mitsuba's AOV (a coat's base colour only; black on metal "
        "and glass), or directional, what the first surface reflects, glossy coats, metal and "
        f"glass included (renderers/albedo.py; default {DEFAULT})")

_registered = False


def check(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"albedo must be one of {', '.join(KINDS)}, not {kind!r}")
    return kind


def directional_albedo_integrator(mi):
    """A loaded Mitsuba integrator whose image is the first hit's BSDF sample weight (its mean:
    the directional albedo), 0 where the ray leaves the scene. ``mi`` has its variant set."""
    global _registered
    if not _registered:
        import drjit as dr

        class DirectionalAlbedo(mi.SamplingIntegrator):
            def sample(self, scene, sampler, ray, medium=None, active=True):
                ray = mi.Ray3f(ray)
                si = scene.ray_intersect(ray, active)
                first_hit = active & si.is_valid()
                albedo, looking = mi.Spectrum(0.0), mi.Bool(first_hit)
                for _ in range(PASS_THROUGH):
                    sample, weight = si.bsdf(ray).sample(mi.BSDFContext(), si,
                                                         sampler.next_1d(looking),
                                                         sampler.next_2d(looking), looking)
                    # A hole of a cut-out (a mask BSDF's null lobe) shows what lies behind it.
                    through = looking & mi.has_flag(sample.sampled_type, mi.BSDFFlags.Null)
                    # A failed sample (pdf 0, e.g. below the surface) reflects nothing.
                    ok = looking & ~through & (sample.pdf > 0) & dr.all(dr.isfinite(weight))
                    albedo = dr.select(ok, weight, albedo)
                    ray = si.spawn_ray(ray.d)
                    si = scene.ray_intersect(ray, through)
                    looking = through & si.is_valid()
                return albedo, first_hit, []

            def aov_names(self):
                return []

            def to_string(self):
                return "DirectionalAlbedo[]"

        mi.register_integrator(PLUGIN, lambda props: DirectionalAlbedo(props))
        _registered = True
    return mi.load_dict({"type": PLUGIN})
