"""`mcdenoise train`: the Noise2Noise U-Net trained from noisy pairs (or references).

    train(TrainConfig(spp=64, output=Path("runs/quick")))   # renders data if needed, trains,
                                                            # writes runs/quick/model.safetensors

A run directory RUN holds everything a run writes:

    RUN/data/               the default dataset (when no --data was given), laid out as
                            mcdenoise/farm/layout.py says
    RUN/checkpoint.pt       model, optimiser, step, RNG and config; written atomically
    RUN/train.csv           step, loss, lr, grad norm, skipped steps, throughput
    RUN/val.csv             per validation: PSNR of noisy input and of the denoised output
                            against the references, relMSE, output/input channel-mean ratios
    RUN/val/step_NNNNNN.png noisy | denoised | reference strips of a few validation scenes
    RUN/tb/                 the same scalars for TensorBoard
    RUN/cache/              decoded training scenes, when they exceed --cache-mb
    RUN/model.safetensors   the result: weights + JSON card (mcdenoise/nn/modelfile.py)

Recipe: colour tonemapped, albedo and normal as stored (normals encoded in [0, 1] mapped to
[-1, 1], both clipped to their ranges), the network's output mapped to linear HDR through
the inverse tonemap (the "output map", mcdenoise/nn/transform.py); target linear HDR; L_HDR
with the stopped, clamped denominator (mcdenoise/nn/loss.py). The optimiser, schedule,
skipping of non-finite steps, bf16 on CUDA and data-parallel training are the shared loop's
(mcdenoise/train/loop.py). With ``workers >= 1`` the loop runs data-parallel (DDP) in Ray
Train workers, one GPU each where the cluster has them; RUN must then be a path every node
sees (as for the farm).

Modules: the flags and presets are in config.py, finding and rendering the data in data.py,
the crops in dataset.py, the loop in loop.py; this one is the Monte Carlo task (render_task:
crops of rendered pairs, validation on whole frames, the EXR denoiser's model file) and the
entry points.
"""
from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mcdenoise.errors import ConfigError
from mcdenoise.train.config import (FIXED_ON_RESUME, TrainConfig, command_line, config_dict,
                                    config_from_dict, init_path, resolve)
from mcdenoise.train.data import DataPlan, plan_data
from mcdenoise.train.loop import (ADAM_EPS, BETAS, CHECKPOINT, MODEL_FILE, RunLog, Task, fit,
                                  load_checkpoint)

# torch and the modules built on it are imported where used: `mcdenoise --help` and the
# other commands should not pay for them.
if TYPE_CHECKING:
    import torch

    from mcdenoise.nn.model import UNet
    from mcdenoise.nn.transform import Transform

STRIP_ROWS = 4  # validation scenes shown in each PNG strip
__all__ = ["validate", "describe_validation", "render_task", "make_card", "check_run", "train",
           "run_train"]


# -- validation ------------------------------------------------------------------------------
def validate(net: UNet, transform: Transform, items: list, device: torch.device,
             strip_path: Path | None = None) -> dict[str, Any]:
    """Denoise every validation frame whole; PSNR (x/(1+x)) and relMSE of the noisy input and
    of the output against the references, and the output/input channel-mean ratios (R, G, B).
    Writes a noisy | denoised | reference strip of the first scenes to ``strip_path``."""
    from mcdenoise.core.color import preview_rgb8, save_png
    from mcdenoise.core.metrics import channel_ratio, psnr, relmse
    from mcdenoise.infer.denoise import Denoiser, denoise
    from mcdenoise.nn.transform import Transform, exposure_scale

    denoiser = Denoiser(net, transform, device=device)
    scores: dict[str, list] = {k: [] for k in ("pi", "po", "ri", "ro", "ratio", "tm", "pn")}
    rows = []
    for item in items:
        out = denoise(denoiser, item.frame).color
        noisy = item.frame.color
        if transform.missing_aux == "zeros" and len(transform.inputs) > 1:
            # The same model with its albedo and normal withheld, as for frames without them.
            scores["pn"].append(psnr(denoise(denoiser, item.frame, use_aux=False).color,
                                     item.reference))
        scores["pi"].append(psnr(noisy, item.reference))
        scores["po"].append(psnr(out, item.reference))
        scores["ri"].append(relmse(noisy, item.reference))
        scores["ro"].append(relmse(out, item.reference))
        scores["ratio"].append(channel_ratio(out, noisy))
        scores["tm"].append(channel_ratio(out, noisy, tonemapped=True))
        if strip_path is not None and len(rows) < STRIP_ROWS:
            # One exposure for the three panels, so they compare; auto-exposed for dark scenes.
            exposure = exposure_scale(noisy, Transform(exposure="auto"))
            rows.append(np.concatenate([preview_rgb8(a, exposure)
                                        for a in (noisy, out, item.reference)], axis=1))
    if strip_path is not None and rows:
        width = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 2), (0, width - r.shape[1]), (0, 0))) for r in rows]
        save_png(np.concatenate(rows, axis=0), strip_path)
    ratio = np.nanmean(np.array(scores["ratio"]), axis=0)
    tm = np.nanmean(np.array(scores["tm"]), axis=0)
    return {"psnr_input": float(np.mean(scores["pi"])), "psnr_output": float(np.mean(scores["po"])),
            "relmse_input": float(np.mean(scores["ri"])), "relmse_output": float(np.mean(scores["ro"])),
            "ratio_r": float(ratio[0]), "ratio_g": float(ratio[1]), "ratio_b": float(ratio[2]),
            "tm_ratio_r": float(tm[0]), "tm_ratio_g": float(tm[1]), "tm_ratio_b": float(tm[2]),
            "psnr_output_no_aux": float(np.mean(scores["pn"])) if scores["pn"] else float("nan"),
            "scenes": len(items)}


def describe_validation(step: int, result: dict[str, Any]) -> str:
    gain = result["psnr_output"] - result["psnr_input"]
    return (f"step {step}: validation PSNR noisy {result['psnr_input']:.2f} dB -> denoised "
            f"{result['psnr_output']:.2f} dB ({gain:+.2f}); relMSE {result['relmse_input']:.4g} -> "
            f"{result['relmse_output']:.4g}; output/input channel means R {result['ratio_r']:.3f} "
            f"G {result['ratio_g']:.3f} B {result['ratio_b']:.3f} (of x/(1+x): "
            f"{result['tm_ratio_r']:.3f} {result['tm_ratio_g']:.3f} {result['tm_ratio_b']:.3f})"
            + (f"; without albedo/normal {result['psnr_output_no_aux']:.2f} dB"
               if math.isfinite(result.get("psnr_output_no_aux", math.nan)) else "")
            + f" ({result['scenes']} scenes)")


# -- the Monte Carlo task ---------------------------------------------------------------------
def render_task(config: TrainConfig, plan: DataPlan, device: torch.device, lead: bool = True,
                world: int = 1, command: str = "") -> Task:
    """The Monte Carlo task: crops of rendered pairs (mcdenoise/train/dataset.py), L_HDR space
    through the output map, validation on whole frames against references, the EXR denoiser's
    model file."""
    from functools import partial

    from mcdenoise.nn.model import UNetConfig
    from mcdenoise.nn.modelfile import save_model
    from mcdenoise.nn.transform import decode_output, transform_for
    from mcdenoise.train.dataset import PairDataset, SceneStore, crop_size, validation_items
    from mcdenoise.train.stream import stream_pool

    run = Path(config.output)
    linear_kernels = config.kernel and config.kernel_space == "linear"
    transform = replace(transform_for(config.inputs, config.exposure),
                        output="linear" if linear_kernels else config.output_map,
                        missing_aux="zeros" if config.aux_dropout > 0 else "error")
    store = SceneStore(plan.train, transform, config.cache_mb, cache_dir=run / "cache")
    if config.stream:
        store = stream_pool(config, store, transform)
    crop = crop_size(store, config.crop)
    dataset = PairDataset(store, transform, crop, config.targets, config.seed, config.aux_dropout)
    val_items = validation_items(plan.val, config.val_images) if lead else []

    def run_validation(net: UNet, step: int) -> dict[str, Any]:
        return validate(net, transform, val_items, device, run / "val" / f"step_{step:06d}.png")

    def finish(net: UNet, summary: dict[str, Any], history: list[dict]) -> str:
        path = run / MODEL_FILE
        save_model(path, net, make_card(config, plan, net, transform, summary, history, world,
                                        device, crop, command))
        return str(path)

    network = UNetConfig(transform.channels, 3, config.width, config.residual and not config.kernel,
                         config.kernel, config.kernel_space, config.scales, config.demodulate,
                         config.separate_kernels, config.band_weights)
    return Task(network, dataset,
                partial(decode_output, transform), run_validation if val_items else None,
                RunLog.VAL, describe_validation, finish,
                f"on {len(store)} scenes{' (streaming, pool of %d)' % config.stream if config.stream else ''}, "
                f"{config.targets} targets, {crop}x{crop} crops",
                init=init_weights(config, network))


def init_weights(config: TrainConfig, network) -> dict[str, Any] | None:
    """--init's weights, checked against the network the run builds (None without --init)."""
    if config.init is None:
        return None
    from mcdenoise.nn.modelfile import load_model
    from mcdenoise.nn.widen import grow

    model, _, _ = load_model(init_path(config.init))
    # --width, --demodulate, --separate-kernels and --band-weights grow it around the same
    # function (nn/widen.py).
    model = grow(model, network, seed=config.seed)
    if model.config != network:
        raise ConfigError(f"--init {config.init}: its network {model.config} is not the one "
                          f"this run trains ({network})")
    return model.state_dict()


def lineage(config: TrainConfig) -> list[dict[str, Any]]:
    """The runs an --init model came from, oldest first, each in a few fields, then that
    model itself; [] without --init."""
    if config.init is None:
        return []
    from mcdenoise.farm.manifest import sha256_file
    from mcdenoise.nn.modelfile import read_card

    path = init_path(config.init)
    card = read_card(path)
    training, data = card.get("training", {}), card.get("data", {})
    own = {"model": path.name, "sha256": sha256_file(path), "created": card.get("created"),
           "command": card.get("command"), "steps": training.get("steps"),
           "seconds": training.get("seconds"), "sessions": training.get("sessions"),
           "train_scenes": data.get("train_scenes"), "train_scene_spec": data.get("train_scene_spec"),
           "validation_psnr_db": (card.get("validation") or {}).get("psnr_denoised_db"),
           "note": card.get("note")}
    return list(card.get("lineage", [])) + [{k: v for k, v in own.items() if v is not None}]


def make_card(config: TrainConfig, plan: DataPlan, net: UNet, transform: Transform,
              summary: dict[str, Any], history: list[dict], world: int, device: torch.device,
              crop: int, command: str) -> dict[str, Any]:
    """The model file's JSON card: architecture, transform, recipe, data, validation scores,
    the command that reproduces the run, the full config and the versions."""
    import torch

    import mcdenoise
    from mcdenoise.nn.model import parameter_count

    last = summary["validation"]
    return {
        "architecture": net.config.to_dict() | {"parameters": parameter_count(net)},
        "transform": transform.to_dict(),
        "training": {"steps": summary["step"], "targets": config.targets, "loss": config.loss,
                     "batch": config.batch, "workers": max(world, 1), "crop": crop,
                     "lr": config.lr, "rampdown": config.rampdown, "grad_clip": config.grad_clip,
                     "optimizer": {"name": "adam", "betas": list(BETAS), "eps": ADAM_EPS},
                     "seed": config.seed, "skipped_steps": summary["skipped"],
                     "seconds": round(summary["seconds"], 1), "device": device.type,
                     "preset": config.preset, "sessions": summary.get("sessions", [])}
                    | ({"minutes": config.minutes} if config.minutes else {})
                    | ({"distill": config.distill} if config.distill else {}),
        "lineage": lineage(config),
        # The albedo buffer it learnt from: inputs of another kind are misread (renderers/albedo.py).
        "albedo": config.albedo,
        "data": plan.card(),
        "validation": None if last is None else {
            "scenes": last["scenes"], "psnr_noisy_db": last["psnr_input"],
            "psnr_denoised_db": last["psnr_output"], "relmse_noisy": last["relmse_input"],
            "relmse_denoised": last["relmse_output"],
            "channel_ratio_output_over_input": [last["ratio_r"], last["ratio_g"], last["ratio_b"]],
            "tonemapped_channel_ratio_output_over_input": [
                last["tm_ratio_r"], last["tm_ratio_g"], last["tm_ratio_b"]],
            "metric": "PSNR of x/(1+x) against the references, mean over scenes",
            "history": [{"step": h["step"], "psnr_denoised_db": round(h["psnr_output"], 3)}
                        for h in history]},
        "command": command or command_line(config),
        "config": config_dict(config),
        "versions": {"mcdenoise": mcdenoise.__version__, "torch": torch.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


# -- entry points ------------------------------------------------------------------------------
def train(config: TrainConfig, stop_at: int | None = None) -> dict[str, Any]:
    """Render data if needed, then train (in this process, or on Ray Train with ``workers``).

    ``stop_at`` ends this invocation after that step with a checkpoint (a later ``resume``
    continues); the model file is written only when ``config.steps`` is reached, or when
    --minutes runs out.
    """
    from mcdenoise.core.files import choose_device

    began = time.monotonic()
    command = command_line(config)
    resolved = resolve(config)
    check_run(resolved)
    if resolved.init is not None:  # a file that is no model fails here, before any rendering
        from mcdenoise.nn.modelfile import load_model

        load_model(init_path(resolved.init))
    check_scene_files(resolved)
    deadline = None
    if resolved.minutes is not None:
        deadline = began + 60.0 * resolved.minutes
        check_budget(resolved)
    plan = plan_data(resolved)
    if deadline is not None and time.monotonic() >= deadline:
        raise ConfigError(f"--minutes {resolved.minutes}: rendering the training data took the "
                          f"whole budget ({time.monotonic() - began:.0f} s); render it first "
                          "(`mcdenoise dataset`, then --data) or give more minutes")
    if resolved.workers >= 1:
        return _train_ray(resolved, plan, stop_at, command)
    device = choose_device(resolved.device)
    task = render_task(resolved, plan, device, command=command)
    if not resolved.stream:
        return fit(resolved, task, device, stop_at=stop_at, deadline=deadline)
    from mcdenoise.train.stream import start_stream

    stream = start_stream(resolved, task.dataset.store, plan)
    try:
        return fit(resolved, task, device, stop_at=stop_at, deadline=deadline)
    finally:
        stream.stop()


def check_scene_files(config: TrainConfig) -> None:
    """Every scene file in --scenes loads (ConfigError naming it and the problem else)."""
    from mcdenoise.train.data import scene_files
    from renderers import RenderError, get_renderer

    files = scene_files(config.scenes)
    renderer = get_renderer() if files else None
    for path in files:
        try:
            renderer.load(path)
        except RenderError as error:
            raise ConfigError(f"--scenes: {error}") from None


def check_budget(config: TrainConfig) -> None:
    """--minutes must leave time to render one training pair: estimated from a render of the
    first training scene at 1/8 of --spp (it also proves the scene loads). ConfigError else."""
    from mcdenoise.train.data import PRESETS, available_families, default_spec, training_names
    from renderers import RenderError, get_renderer

    spec = config.scenes or default_spec("train", PRESETS[config.preset]["train_count"],
                                         available_families())
    scene = training_names(config, spec)[0]
    spp = max(1, config.spp // 8)
    began = time.perf_counter()
    try:
        get_renderer().render(scene, spp=spp, seed=0, width=config.size, height=config.size)
    except RenderError as error:
        raise ConfigError(f"--scenes: {error}") from None
    pair = 2 * (time.perf_counter() - began) * config.spp / spp
    if pair > 60.0 * config.minutes:
        raise ConfigError(f"--minutes {config.minutes}: one {config.size}x{config.size} pair of "
                          f"{scene} at {config.spp} spp takes about {pair:.0f} s here, more "
                          "than the budget; give more minutes, or a smaller --size or --spp")


def check_run(config: TrainConfig) -> None:
    """Refuse to overwrite a run without --resume, or to resume it with another recipe."""
    import torch

    checkpoint = Path(config.output) / CHECKPOINT
    if not checkpoint.exists():
        return
    state = load_checkpoint(checkpoint, torch.device("cpu"))
    if not config.resume:
        raise ConfigError(f"{config.output} already holds a run (checkpoint at step "
                          f"{state['step']}): pass --resume to continue it, or choose another -o")
    # Checkpoints older than a field hold its default (config_from_dict fills it in).
    saved = asdict(config_from_dict(state["config"]))
    changed = [k for k in FIXED_ON_RESUME if saved.get(k) != getattr(config, k)]
    if changed:
        raise ConfigError(f"{checkpoint}: cannot resume with other " + ", ".join(
            f"--{k.replace('_', '-')} ({saved.get(k)} -> {getattr(config, k)})" for k in changed))


def _ray_worker(loop_config: dict[str, Any]) -> None:
    """One Ray Train worker: the same loop, with DDP across the workers."""
    import ray.train
    import ray.train.torch

    context = ray.train.get_context()
    config = config_from_dict(loop_config["config"])
    device = ray.train.torch.get_device()
    rank, world = context.get_world_rank(), context.get_world_size()
    task = render_task(config, loop_config["plan"], device, lead=rank == 0, world=world,
                       command=loop_config["command"])
    fit(config, task, device, rank=rank, world=world, stop_at=loop_config["stop_at"])


def _train_ray(config: TrainConfig, plan: DataPlan, stop_at: int | None, command: str) -> dict[str, Any]:
    """``config.workers`` Ray Train workers run _ray_worker; the summary is read back from the
    checkpoint rank 0 wrote (RUN must be on a path every node sees)."""
    import ray
    import torch
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from mcdenoise.farm.driver import start_ray

    run = Path(config.output).resolve()
    config = replace(config, output=run, data=config.data and Path(config.data).resolve(),
                     val_data=config.val_data and Path(config.val_data).resolve())
    owns = not ray.is_initialized()
    # A local cluster gets a CPU per worker at least, so the workers can all start.
    start_ray(config.address, num_cpus=max(os.cpu_count() or 1, config.workers),
              log_to_driver=True)
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        use_gpu = config.device == "cuda" or (config.device == "auto" and gpus >= config.workers)
        trainer = TorchTrainer(
            _ray_worker,
            train_loop_config={"config": config_dict(config), "plan": plan, "stop_at": stop_at,
                               "command": command},
            scaling_config=ScalingConfig(num_workers=config.workers, use_gpu=use_gpu),
            run_config=RunConfig(name="ray", storage_path=str(run / "ray")))
        trainer.fit()
    finally:
        if owns:
            ray.shutdown()
    state = load_checkpoint(run / CHECKPOINT, torch.device("cpu"))
    history = json.loads(state["history"])
    model = run / MODEL_FILE
    return {"step": int(state["step"]), "skipped": int(state["skipped"]),
            "validation": history[-1] if history else None,
            "model": str(model) if int(state["step"]) >= config.steps and model.exists() else None,
            "seconds": float(state["elapsed_s"])}


def run_train(config: TrainConfig) -> int:
    """The CLI's `train`: prints where the model went and how it scores."""
    summary = train(config)
    if summary["model"]:
        print(f"wrote {summary['model']} after {summary['step']} steps "
              f"({summary['skipped']} skipped, {summary['seconds']:.0f} s)")
        if summary["validation"]:
            print(describe_validation(summary["step"], summary["validation"]))
    return 0
