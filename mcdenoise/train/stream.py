"""Streaming training data: fresh scenes rendered while the trainer trains.

With ``mcdenoise train --stream N`` the training scenes are a pool of at most N scenes. It
starts with the run's training data (``--data`` or the preset's dataset). A background thread
renders noisy pairs of fresh scene-family instances through the farm (Ray tasks on
``--stream-cpus`` cores, into RUN/stream) and adds each finished scene to the pool; once the
pool is full the oldest scene leaves it, and if the stream rendered it, its files are deleted.
A long run thus sees thousands of distinct scenes and keeps only N on disk and in memory.

Fresh instances come from the training split of every scene family in an order drawn from the
seed (family by family in turn), skipping those the run's data holds. A resumed run continues
that order after the scenes its RUN/stream manifest records and reloads the pool from the
scenes still on disk. Streamed data cannot be replayed exactly: which scenes are in the pool at
a step depends on how fast they render, so a resumed or repeated run sees other crops.
"""
from __future__ import annotations

import itertools
import shutil
import threading
import time
import warnings
from collections import deque
from pathlib import Path

import numpy as np

from mcdenoise.nn.transform import Transform, exposure_scale
from mcdenoise.train.dataset import SceneFiles, SceneStore, scan

STREAM_DIR = "stream"
# Scenes per farm call: enough to keep every stream core busy, few enough that each one
# reaches the pool soon after it is rendered.
BATCH_PER_CPU = 2


class ScenePool:
    """At most ``capacity`` decoded training scenes, oldest out first; thread-safe.

    The same reading interface as SceneStore (``item``, ``len``, ``files``): PairDataset reads
    either. ``owned`` scenes (those the stream rendered) have their folder deleted on eviction.
    """

    def __init__(self, capacity: int, transform: Transform, store: SceneStore,
                 owned_root: Path | None = None):
        if capacity < 1:
            raise ValueError("a scene pool holds at least one scene")
        self.capacity, self.transform, self.owned_root = capacity, transform, owned_root
        self._lock = threading.Lock()
        self._entries: deque[tuple[SceneFiles, np.ndarray, tuple[float, float]]] = deque()
        self.added = 0  # scenes that ever entered the pool
        self.evicted = 0
        for files, array, scales in list(zip(store.files, store.arrays, store.scales))[-capacity:]:
            self._entries.append((files, array, scales))

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def files(self) -> list[SceneFiles]:
        with self._lock:
            return [entry[0] for entry in self._entries]

    @property
    def arrays(self) -> list[np.ndarray]:
        with self._lock:
            return [entry[1] for entry in self._entries]

    def item(self, index: int) -> tuple[np.ndarray, tuple[float, float]]:
        """(the scene's (H, W, 21) array, its two exposure scales); ``index`` modulo the pool's
        current size, since the pool may have grown or shrunk since the index was drawn."""
        with self._lock:
            _, array, scales = self._entries[index % len(self._entries)]
        return array, scales

    def add(self, files: SceneFiles, array: np.ndarray) -> SceneFiles | None:
        """Put a decoded scene in; returns the scene that left to make room, if any."""
        a = array.astype(np.float32, copy=False)
        scales = (exposure_scale(a[..., 0:3], self.transform), exposure_scale(a[..., 9:12], self.transform))
        with self._lock:
            self._entries.append((files, array, scales))
            self.added += 1
            evicted = self._entries.popleft() if len(self._entries) > self.capacity else None
        if evicted is None:
            return None
        self.evicted += 1
        folder = evicted[0].noisy[0].parent
        if self.owned_root is not None and folder.parent.parent == self.owned_root:
            shutil.rmtree(folder, ignore_errors=True)  # only what the stream itself rendered
        return evicted[0]


def fresh_scenes(seed: int, families: list[str], exclude: set[str]):
    """Training-split instance names in the stream's order: per round, one of each family,
    at indices from a seeded permutation of the split; ``exclude``d names are skipped."""
    import scenes

    split = scenes.SPLITS["train"]
    order = np.random.default_rng([seed, 7]).permutation(len(split))
    for position in order:
        for family in families:
            name = f"{family}:{split.start + int(position)}"
            if name not in exclude:
                yield name


def stream_names(config, exclude: set[str]):
    """What a run streams (``config``: a resolved TrainConfig): fresh scene-family instances,
    or, with scene files in --scenes, fresh views of them (after the --views the dataset
    holds), each name a family instance instead with probability --family-share."""
    import scenes

    from mcdenoise.train.data import file_views, scene_files

    families = fresh_scenes(config.seed, scenes.family_names(), exclude)
    files = scene_files(config.scenes)
    if not files:
        yield from families
        return
    rng = np.random.default_rng([config.seed, 11])
    drawn = dict.fromkeys(files, config.views)
    for turn in itertools.count():
        while rng.random() < config.family_share:
            yield next(families)
        path = files[turn % len(files)]
        name = file_views(path, config, drawn[path], 1)[0]
        drawn[path] += 1
        if name not in exclude:
            yield name


class SceneStream:
    """The background thread that renders fresh pairs into ``root`` and feeds ``pool``.

    ``dataset`` is the farm's DatasetConfig for the stream (output ``root``; its ``scenes`` is
    replaced per batch). Errors in the thread are kept and re-raised by ``stop``/``check``.
    """

    def __init__(self, pool: ScenePool, dataset, names, cpus: int, record: dict | None = None):
        self.pool, self.dataset, self.cpus = pool, dataset, cpus
        self.record = record if record is not None else {}
        self.root = Path(dataset.output)
        self._names = names
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scene-stream", daemon=True)
        self.error: BaseException | None = None
        self.owns_ray = False  # start_stream started Ray for it: stop() shuts it down
        self.rendered = 0
        self.seconds = 0.0

    def start(self) -> "SceneStream":
        self._thread.start()
        return self

    def _run(self) -> None:
        from dataclasses import replace

        from mcdenoise.farm.driver import run_dataset
        from mcdenoise.train.dataset import _scene_array

        try:
            began = time.perf_counter()
            while not self._stop.is_set():
                batch = [next(self._names) for _ in range(BATCH_PER_CPU * self.cpus)]
                run_dataset(replace(self.dataset, scenes=",".join(batch)))
                wanted = set(batch)
                for files in scan(self.root):
                    if files.scene in wanted:
                        self.pool.add(files, _scene_array(files))
                        self.rendered += 1
                self.seconds = time.perf_counter() - began
                self.record.update(rendered=self.rendered, evicted=self.pool.evicted,
                                   seconds_per_scene=round(self.seconds / max(self.rendered, 1), 2))
        except BaseException as error:  # noqa: BLE001 - handed to the training thread
            self.error = error

    def stop(self) -> None:
        """Finish the batch in progress (its scenes stay on disk for a resumed run), then end.
        A stream that failed is reported, not raised: training went on with the pool."""
        self._stop.set()
        self._thread.join()
        if self.owns_ray:
            import ray

            ray.shutdown()
        if self.error is not None:
            warnings.warn(f"the scene stream stopped early ({self.error!r}); training used the "
                          f"pool as it was")

    def rate(self) -> str:
        if not self.rendered:
            return "no scenes yet"
        return f"{self.rendered} scenes, {self.seconds / self.rendered:.1f} s each"


def streamed_names(root: Path) -> set[str]:
    """Scenes the stream of a run rendered before (its manifest), finished or not."""
    from mcdenoise.farm.manifest import read_manifest

    if not (root / "manifest.jsonl").exists():
        return set()
    return {record.scene for record in read_manifest(root).values()}


def stream_cpus(config) -> int:
    """Cores for the stream's render tasks: --stream-cpus, or half of this machine's (>= 1)."""
    import os

    return config.stream_cpus or max(1, (os.cpu_count() or 2) // 2)


def stream_pool(config, store: SceneStore, transform: Transform) -> ScenePool:
    """The pool a streaming run (``config``: a resolved TrainConfig) starts from: the newest of
    the run's training scenes, then the scenes a previous invocation streamed into RUN/stream
    and left on disk (so a resumed run continues where it stopped)."""
    from mcdenoise.train.dataset import _scene_array

    root = Path(config.output) / STREAM_DIR
    pool = ScenePool(config.stream, transform, store, owned_root=root)
    if root.exists():
        for files in scan(root):
            if files.noisy[0].exists():
                pool.add(files, _scene_array(files))
    return pool


def start_stream(config, pool: ScenePool, plan) -> SceneStream:
    """Start rendering fresh scenes for ``pool`` (Ray on the stream's share of the cores, the
    trainer's torch threads on the rest); ``plan.stream`` (the card's record) follows it."""
    import torch

    from mcdenoise.farm.driver import DatasetConfig, start_ray
    from mcdenoise.train.data import scene_files

    import ray

    cpus = stream_cpus(config)
    torch.set_num_threads(max(1, torch.get_num_threads() - cpus))
    owns_ray = not ray.is_initialized()
    start_ray(config.address, num_cpus=cpus)
    root = Path(config.output) / STREAM_DIR
    exclude = {s.scene for s in plan.train} | streamed_names(root)
    names = stream_names(config, exclude)
    # Fresh scenes take the size of the run's training data, so every crop fits every scene.
    height, width = pool.arrays[0].shape[:2]
    dataset = DatasetConfig(output=root, scenes="", spp=config.spp, width=width, height=height,
                            albedo=config.albedo,
                            seed=config.seed, address=config.address, num_cpus=cpus)
    stream = SceneStream(pool, dataset, names, cpus, record=plan.stream)
    stream.owns_ray = owns_ray
    plan.stream.update(pool=config.stream, cpus=cpus, size=[width, height], spp=config.spp,
                       before=len(exclude - {s.scene for s in plan.train}))
    if scene_files(config.scenes):  # fresh views of the files, some family scenes among them
        plan.stream.update(family_share=config.family_share)
    print(f"streaming fresh {width}x{height} scenes on {cpus} core(s) into a pool of "
          f"{config.stream} (now {len(pool)})", flush=True)
    return stream.start()
