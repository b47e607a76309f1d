"""The render farm: noisy-pair datasets and many-pass references, scheduled on Ray.

Work is split into items, each one Ray task that renders one EXR and writes it to the dataset
directory itself (a path every node sees), so large arrays never travel through the driver:

- ``noisy`` 0 and 1: the Noise2Noise pair, two seeds at ``spp``, colour + albedo + normal;
- ``pass`` k: ``chunk_spp`` samples of the reference with a seed of its own (colour only);
- ``reference``: a merge task that adds finished passes into ``reference.exr``, weighted by
  sample count. The reference records which passes it holds, so none is ever counted twice
  and asking for more spp later only renders the missing passes.

The driver keeps a bounded number of tasks in flight (memory stays flat however many scenes
are asked for) and is the only writer of the manifest (farm/manifest.py); it holds DIR's lock
(farm/lock.py) so that no second driver works there at once. It resubmits an item whose worker
process died (counted as retried); a scene that fails to load or render is recorded as failed
and the other scenes go on. A re-run checks every finished file before skipping it
(farm/resume.py) and refuses other settings or another renderer (farm/settings.py). Paths
reach the workers absolute, so on a cluster they mean what they meant to the driver. Seeds
are a hash of (dataset seed, scene, kind, index): the same command renders the same images,
and every pair and pass has its own noise.

The directory layout, items, slugs and seeds are in farm/layout.py.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mcdenoise.errors import ConfigError, raise_terminated
from mcdenoise.flags import add_command, flag
from mcdenoise.farm.layout import Item, Record, item_seed, resolved_scene
from mcdenoise.farm.lock import DirLock
from mcdenoise.farm.manifest import ManifestWriter, sha256_file
from mcdenoise.farm.resume import finished_items, remove_temporaries
from mcdenoise.farm.settings import DatasetSettings, local_renderer
from renderers import albedo as albedos


@dataclass
class DatasetConfig:
    """`mcdenoise dataset`: render noisy pairs (and references) for many scenes on Ray."""
    output: Path = flag(short="-o", metavar="DIR", help="dataset directory (on a path every node sees)")
    scenes: str = flag(metavar="SPEC", help="e.g. 'interior:0-799,cornell:0-99,path/to/scene.xml' "
                       "or a split name (train, validation, test)")
    spp: int = flag(64, help="spp of each noisy render")
    reference_spp: int = flag(0, help="spp of the references (default 0: none; the paper used 131072)")
    chunk_spp: int = flag(4096, help="spp of one reference pass, one Ray task each")
    width: int | None = flag(None, help="image width (default: the scene's)")
    height: int | None = flag(None, help="image height (default: keeps the aspect)")
    max_depth: int | None = flag(None, help="path depth (default: the scene's)")
    albedo: str = flag(albedos.DEFAULT, choices=albedos.KINDS, help=albedos.HELP)
    seed: int = flag(0, help="dataset seed (default 0)")
    address: str | None = flag(None, help="join a Ray cluster: auto, host:port or ray://host:port "
                               "(default: start a local Ray)")
    num_cpus: int | None = flag(None, help="CPUs of the local Ray (default: all)")
    gpus_per_task: float = flag(0.0, help="GPUs per render task; > 0 renders with Mitsuba's CUDA variant")
    variant: str | None = flag(None, help="Mitsuba variant (default: chosen per worker)")
    max_in_flight: int | None = flag(None, help="tasks submitted at once (default: 2 per cluster CPU)")
    retries: int = flag(3, help="retries of an item whose worker died")
    verify: bool = flag(False, help="check every finished file against the SHA-256 the "
                        "manifest recorded before skipping it (default: its size and EXR "
                        "structure, a fast check)")


@dataclass
class Summary:
    rendered: int = 0
    skipped: int = 0
    failed: int = 0
    retried: int = 0  # resubmissions of items whose worker died
    broken: list[str] = field(default_factory=list)  # finished files that failed the check
    samples: int = 0
    seconds: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else 0.0


# -- planning --------------------------------------------------------------------------------
def plan(config: DatasetConfig, scenes: list[str], done: dict[str, Record]) -> list[Item]:
    """Items still to do, in order. ``done`` maps item keys to finished manifest records.

    Reference passes top up: passes already rendered (merged or not) count towards
    ``reference_spp``; new passes continue the index sequence, so each has a fresh seed.
    """
    items: list[Item] = []
    for scene in scenes:
        for index in (0, 1):
            item = Item(scene, "noisy", index, config.spp, item_seed(config.seed, scene, "noisy", index))
            if item.key not in done:
                items.append(item)
        if config.reference_spp <= 0:
            continue
        passes = {r.index: r.spp for r in done.values() if r.scene == scene and r.kind == "pass"}
        remaining = config.reference_spp - sum(passes.values())
        index = max(passes, default=-1) + 1
        new_passes = []
        while remaining > 0:
            spp = min(config.chunk_spp, remaining)
            new_passes.append(Item(scene, "pass", index, spp, item_seed(config.seed, scene, "pass", index)))
            remaining -= spp
            index += 1
        items += new_passes
        reference = done.get(Item(scene, "reference", 0, 0, 0).key)
        merged = set(reference.passes) if reference else set()
        if new_passes or set(passes) - merged:
            items.append(Item(scene, "reference", 0, 0, 0))
    return items


# -- the work, run inside Ray workers ----------------------------------------------------------
_renderer = None
MIN_DRJIT_THREADS = 2


def _worker_renderer(variant: str | None, threads: int):
    """One renderer per worker process, so its scene cache survives from task to task."""
    global _renderer
    if _renderer is None:
        from renderers import get_renderer

        _renderer = get_renderer(variant=variant)
        if threads > 0:  # one task per CPU: Dr.Jit's own pool would oversubscribe the node
            import drjit

            # At least 2: with a pool of one thread Dr.Jit deadlocks (a task waiting on a task
            # queued behind it) on some scene files, e.g. the third-party envmap-lit spheres.
            drjit.set_thread_count(max(threads, MIN_DRJIT_THREADS))
    return _renderer


def render_item(item: Item, root: str, config: dict[str, Any]) -> dict[str, Any]:
    """Render one noisy image or reference pass to ``root/item.path``; returns its record."""
    from mcdenoise.core.exr import write_frame

    renderer = _worker_renderer(config["variant"], config["threads"])
    frame = renderer.render(item.scene, spp=item.spp, seed=item.seed, width=config["width"],
                            height=config["height"], max_depth=config["max_depth"],
                            aux=item.kind == "noisy", albedo=config["albedo"])
    path = Path(root) / item.path
    path.parent.mkdir(parents=True, exist_ok=True)
    # Passes are summed into a reference: keep full float precision.
    write_frame(frame, path, precision="half" if item.kind == "noisy" else "float")
    meta = frame.metadata
    return {"width": frame.width, "height": frame.height, "renderer": meta["renderer"],
            "renderer_version": meta["renderer_version"], "variant": meta["variant"],
            "timings": meta["timings"], "sha256": sha256_file(path),
            "bytes": path.stat().st_size, "samples": frame.width * frame.height * item.spp,
            "host": socket.gethostname()}  # which node rendered it: a bad node can be traced


def merge_reference(scene: str, root: str, passes: dict[int, int]) -> dict[str, Any]:
    """Add finished passes (index -> spp) that the reference does not hold yet into
    ``reference.exr``, weighted by sample count; then delete the scene's pass files."""
    from mcdenoise.core.exr import read_frame, write_frame

    root_path = Path(root)
    target = root_path / Item(scene, "reference", 0, 0, 0).path
    total, spp, held, template = None, 0, [], None
    if target.exists():
        template = read_frame(target)
        held = list(template.metadata.get("passes", []))
        spp = int(template.metadata["spp"])
        total = template.color.astype(np.float64) * spp
    for index in sorted(set(passes) - set(held)):
        frame = read_frame(root_path / Item(scene, "pass", index, 0, 0).path)
        weighted = frame.color.astype(np.float64) * passes[index]
        total = weighted if total is None else total + weighted
        spp += passes[index]
        held.append(index)
        template = template or frame
    if template is None:
        raise RuntimeError(f"{scene}: no reference passes to merge")
    metadata = {**template.metadata, "spp": spp, "passes": sorted(held), "seed": None,
                "kind": "reference"}
    reference = template.replace(color=(total / spp).astype(np.float32), metadata=metadata)
    write_frame(reference, target, precision="float")
    # Merged passes are now inside the reference. Any other pass file is a stray: a render that
    # finished while Ctrl-C stopped the driver, never recorded, so never counted (a re-run
    # renders new indices instead). The driver merges only when no pass of the scene is in
    # flight, so every file here can go.
    passes_dir = (root_path / Item(scene, "pass", 0, 0, 0).path).parent
    for path in passes_dir.glob("pass_*.exr"):
        path.unlink(missing_ok=True)
    return {"spp": spp, "passes": sorted(held), "sha256": sha256_file(target),
            "bytes": target.stat().st_size, "width": reference.width, "height": reference.height}


# -- the driver -----------------------------------------------------------------------------
def dataset_settings(config: DatasetConfig, root: Path) -> DatasetSettings:
    """What every run into ``root`` must agree on (farm/settings.py)."""
    return DatasetSettings(root, {"spp": config.spp, "width": config.width,
                                  "height": config.height, "max_depth": config.max_depth,
                                  "seed": config.seed, "albedo": config.albedo})


def start_ray(address: str | None = None, num_cpus: int | None = None,
              log_to_driver: bool = False):
    """Join the cluster at ``address``, or start a local one (dashboard off) and return it:
    the project's one way to start Ray. ``log_to_driver``: show the workers' output here (the
    trainer's progress runs in a Ray Train worker; render workers have nothing to say)."""
    import ray

    if ray.is_initialized():
        return ray
    ours = signal.getsignal(signal.SIGTERM)
    if address:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=log_to_driver)
    else:
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a private, local cluster
        ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False,
                 logging_level=logging.ERROR, log_to_driver=log_to_driver)
    # ray.init makes SIGTERM exit at once; the command line's handler (cli.main) stops the
    # command as Ctrl-C does (a trainer checkpoints first; mcdenoise.errors), so it is put
    # back. Ray's atexit hook still shuts Ray down afterwards.
    if ours is raise_terminated and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, ours)
    return ray


def run_dataset(config: DatasetConfig,
                on_progress: Callable[[Summary, int], None] | None = None) -> Summary:
    """Render everything ``config`` asks for that DIR does not hold yet; returns a summary.

    ``on_progress(summary, total_items)`` is called after every finished item. Raises
    ConfigError (DatasetLocked) while another driver works in DIR.
    """
    import scenes as scene_family

    root = Path(config.output).resolve()
    names = scene_family.parse_spec(config.scenes)
    if not names:
        raise ConfigError(f"scene spec {config.scenes!r} names no scenes")
    with DirLock(root):
        return _run_locked(config, root, names, on_progress)


# A task whose worker process died (killed, out of memory, node lost) is resubmitted; an
# exception raised by the render itself is the scene's failure, not retried.
_WORKER_DEATHS = ("WorkerCrashedError", "NodeDiedError", "LocalRayletDiedError",
                  "OutOfMemoryError", "ObjectLostError", "OwnerDiedError")


def _run_locked(config: DatasetConfig, root: Path, names: list[str],
                on_progress: Callable[[Summary, int], None] | None) -> Summary:
    variant = config.variant or ("cuda_ad_rgb" if config.gpus_per_task > 0 else None)
    settings = dataset_settings(config, root)
    done, broken = finished_items(root, config.verify)
    # With a local Ray the workers choose as this process does: refuse before rendering.
    settings.check([r.details for r in done.values()],
                   None if config.address else local_renderer(variant))
    remove_temporaries(root)
    todo = plan(config, names, done)
    summary = Summary(skipped=_count_planned_without(config, names) - len(todo), broken=broken)
    if not todo:
        if on_progress:
            on_progress(summary, 0)
        return summary

    import ray as ray_module

    owns_ray = not ray_module.is_initialized()
    ray = start_ray(config.address, config.num_cpus)
    started = time.perf_counter()
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    threads = 1 if config.gpus_per_task <= 0 else 0
    worker_config = {"variant": variant, "threads": threads, "width": config.width,
                     "height": config.height, "max_depth": config.max_depth,
                     "albedo": config.albedo}
    options = {"num_cpus": 1, "num_gpus": config.gpus_per_task, "max_retries": 0}
    render_task = ray.remote(render_item).options(**options)
    merge_task = ray.remote(merge_reference).options(num_cpus=1, max_retries=0)
    limit = config.max_in_flight or 2 * cpus

    waiting_merge = {item.scene: item for item in todo if item.kind == "reference"}
    queue = [item for item in todo if item.kind != "reference"]
    pending_renders = {scene: sum(1 for i in queue if i.scene == scene and i.kind == "pass")
                       for scene in waiting_merge}
    failed_scenes: dict[str, str] = {}
    in_flight: dict[Any, Item] = {}
    attempts: dict[str, int] = {}
    total = len(todo)

    def submit(item: Item) -> None:
        # Workers get the scene as an absolute path; the manifest keeps the name as asked.
        scene = resolved_scene(item.scene)
        if item.kind == "reference":
            passes = {r.index: r.spp for r in done.values()
                      if r.scene == item.scene and r.kind == "pass"}
            in_flight[merge_task.remote(scene, str(root), passes)] = item
        else:
            task_item = Item(scene, item.kind, item.index, item.spp, item.seed)
            in_flight[render_task.remote(task_item, str(root), worker_config)] = item

    def merge_if_ready(scene: str) -> None:
        if scene in waiting_merge and pending_renders.get(scene, 0) == 0 and scene not in failed_scenes:
            queue.insert(0, waiting_merge.pop(scene))

    def finish(item: Item, result: dict[str, Any]) -> None:
        mismatch = settings.accept(result)
        if mismatch:
            (root / item.path).unlink(missing_ok=True)
            fail(item, mismatch)
            return
        record = Record.of(item, "done", **result)
        manifest.append(record)
        done[item.key] = record
        summary.rendered += 1
        summary.samples += result.get("samples", 0)

    def fail(item: Item, message: str) -> None:
        failed_scenes.setdefault(item.scene, message)
        _record_failure(manifest, summary, item, message)

    for scene in list(waiting_merge):
        merge_if_ready(scene)
    with ManifestWriter(root) as manifest:
        try:
            while queue or in_flight:
                while queue and len(in_flight) < limit:
                    item = queue.pop(0)
                    if item.scene in failed_scenes:
                        _record_failure(manifest, summary, item, failed_scenes[item.scene])
                        continue
                    submit(item)
                if not in_flight:
                    continue
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                item = in_flight.pop(ready[0])
                try:
                    result = ray.get(ready[0])
                except Exception as error:  # the task's own exception, or its worker's death
                    if (type(error).__name__ in _WORKER_DEATHS
                            and attempts.get(item.key, 0) < config.retries):
                        attempts[item.key] = attempts.get(item.key, 0) + 1
                        summary.retried += 1
                        queue.insert(0, item)
                        continue
                    fail(item, _task_error(error))
                else:
                    finish(item, result)
                if item.kind == "pass":
                    pending_renders[item.scene] -= 1
                    merge_if_ready(item.scene)
                summary.seconds = time.perf_counter() - started
                if on_progress:
                    on_progress(summary, total)
            for scene, item in waiting_merge.items():  # scenes whose passes failed
                _record_failure(manifest, summary, item, failed_scenes.get(scene, "passes failed"))
        except KeyboardInterrupt:
            for ref in in_flight:
                ray.cancel(ref, force=True)
            raise
        finally:
            summary.seconds = time.perf_counter() - started
            if owns_ray:
                ray.shutdown()
            remove_temporaries(root)
    return summary


def run_with_progress(config: DatasetConfig, desc: str = "dataset") -> Summary:
    """``run_dataset`` behind a progress bar (items/s and ETA from tqdm, samples/s and failures
    as postfix); the scenes that failed are listed on stderr afterwards."""
    import sys

    from tqdm import tqdm

    bar = tqdm(unit="item", desc=desc, disable=None, leave=False)

    def progress(summary: Summary, total: int) -> None:
        bar.total = total
        bar.set_postfix_str(f"{summary.samples_per_second / 1e6:.2f} Msamples/s, "
                            f"{summary.failed} failed", refresh=False)
        bar.update(summary.rendered + summary.failed - bar.n)

    try:
        summary = run_dataset(config, on_progress=progress)
    finally:
        bar.close()
    for problem in summary.broken:
        print(f"  rendered again, its file failed the check: {problem}", file=sys.stderr)
    for scene, error in summary.errors.items():
        print(f"  failed: {scene}: {error}", file=sys.stderr)
    return summary


def _count_planned_without(config: DatasetConfig, names: list[str]) -> int:
    """Number of items a fresh directory would need (for the 'skipped' count)."""
    return len(plan(config, names, {}))


def _record_failure(manifest: ManifestWriter, summary: Summary, item: Item, message: str) -> None:
    manifest.append(Record.of(item, "failed", error=message))
    summary.failed += 1
    summary.errors.setdefault(item.scene, message)


def _task_error(error: Exception) -> str:
    """The original error's message, without Ray's traceback wrapping."""
    cause = getattr(error, "cause", None)
    text = str(cause) if cause is not None else str(error)
    return text.strip().splitlines()[-1] if text.strip() else type(error).__name__


def run_command(config: DatasetConfig) -> int:
    """The CLI's `dataset`: a summary line; exit 1 when any item failed."""
    summary = run_with_progress(config)
    print(f"dataset {config.output}: {summary.rendered} rendered, {summary.skipped} skipped "
          f"(already done), {summary.failed} failed, {summary.retried} retried (worker died), "
          f"{len(summary.broken)} broken files re-rendered; {summary.samples_per_second / 1e6:.2f} "
          f"Msamples/s over {summary.seconds:.1f} s")
    return 1 if summary.failed else 0


def register(commands) -> None:
    add_command(
        commands, "dataset", DatasetConfig, run_command,
        help="render noisy pairs (and references) for many scenes on Ray",
        description="Render a Noise2Noise dataset: for every scene two independent noisy "
                    "renders at --spp (colour + albedo + normal) and, with --reference-spp, a "
                    "reference accumulated from passes of --chunk-spp. Resumable: re-running "
                    "skips what is done; more --reference-spp extends references.")
