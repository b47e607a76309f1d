"""The training loop every trainer of the project shares: fit() trains a Task.

A Task (below) is what differs between trainers: the data, the map from the network's
output to the loss's space, the validation and the model file. The Monte Carlo renders'
task is mcdenoise/train/mc.py's render_task(); `mcdenoise bench photo` (mcdenoise/bench/photo/)
brings its own. fit() owns the rest of the recipe:

- Adam (0.9, 0.99, 1e-8), constant lr then a cos^2 ramp-down over the last ``rampdown``
  fraction (lr_at); gradient-norm clipping; a step whose loss or gradient is not finite is
  skipped and counted (all ranks together);
- optionally (``ema``) an exponential moving average of the weights, which validation and
  the model file use;
- on CUDA bf16 autocast; channels_last everywhere;
- with ``world > 1`` data-parallel (DDP) across Ray Train workers, rank 0 logging,
  validating, checkpointing and writing the model file;
- the data order is a function of (seed, step) (StepBatches in mcdenoise/train/dataset.py),
  and the checkpoint holds the model, optimiser, step, RNG state and config, so a resumed run
  continues exactly where it stopped: k steps in one go equal k/2 + k/2 with a resume, bit
  for bit.

Files in the run directory RUN: checkpoint.pt (written atomically), train.csv, val.csv and
tb/ (TensorBoard) from RunLog, and what the task's ``finish`` writes (the model file).
"""
from __future__ import annotations

import copy
import csv
import json
import math
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from mcdenoise.train.config import TrainConfig, config_dict

# torch and the modules built on it are imported where used.
if TYPE_CHECKING:
    import torch

    from mcdenoise.nn.model import UNet, UNetConfig

CHECKPOINT = "checkpoint.pt"
MODEL_FILE = "model.safetensors"
BETAS, ADAM_EPS = (0.9, 0.99), 1e-8


def lr_at(step: int, steps: int, base: float, rampdown: float) -> float:
    """Constant ``base``, then cos^2 down to 0 over the last ``rampdown`` fraction."""
    start = (1.0 - rampdown) * steps
    if rampdown <= 0 or step < start:
        return base
    t = (step - start) / (rampdown * steps)
    return base * math.cos(0.5 * math.pi * min(t, 1.0)) ** 2


def ema_decay(step: int, decay: float) -> float:
    """The average's decay at global ``step``: ``decay``, warmed up so that the first steps
    (of a run from an --init model or from scratch) are not averaged with the start."""
    return min(decay, (1.0 + step) / (10.0 + step))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """torch.save, atomically: a crash never leaves half a checkpoint."""
    import torch

    from mcdenoise.core.files import atomic_path

    with atomic_path(path) as temp:
        torch.save(state, temp)


def load_checkpoint(path: Path, device: torch.device) -> dict[str, Any]:
    import torch

    # Only tensors and plain Python values inside: the safe loader suffices.
    return torch.load(path, map_location=device, weights_only=True)


class RunLog:
    """CSV files and TensorBoard scalars of rank 0. On resume, rows past the checkpoint's step
    (written before a crash) are dropped so the logs describe one consistent run."""

    TRAIN = ["step", "loss", "lr", "grad_norm", "skipped", "steps_per_s", "crops_per_s", "elapsed_s"]
    VAL = ["step", "psnr_input", "psnr_output", "relmse_input", "relmse_output",
           "ratio_r", "ratio_g", "ratio_b", "tm_ratio_r", "tm_ratio_g", "tm_ratio_b",
           "psnr_output_no_aux", "scenes",
           "elapsed_s"]

    def __init__(self, run: Path, start: int, val_fields: list[str] | None = None):
        self.run = run
        self.val = list(val_fields or self.VAL)
        for name, header in (("train.csv", self.TRAIN), ("val.csv", self.val)):
            _truncate_csv(run / name, header, start)
        self.tb = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run / "tb"), purge_step=start if start else None)
        except ImportError:  # pragma: no cover - tensorboard is a dependency
            warnings.warn("tensorboard is not installed: scalars go to CSV only")

    def write(self, name: str, row: dict[str, Any]) -> None:
        header = self.TRAIN if name == "train" else self.val
        with open(self.run / f"{name}.csv", "a", newline="") as handle:
            csv.DictWriter(handle, header).writerow({k: row.get(k) for k in header})
        if self.tb is not None:
            for key, value in row.items():
                if key != "step" and isinstance(value, (int, float)) and math.isfinite(value):
                    self.tb.add_scalar(f"{name}/{key}", value, row["step"])
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _truncate_csv(path: Path, header: list[str], start: int) -> None:
    rows = []
    if path.exists() and start > 0:
        with open(path, newline="") as handle:
            rows = [r for r in csv.DictReader(handle) if r.get("step") and int(r["step"]) <= start]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows({k: r.get(k) for k in header} for r in rows)


@dataclass
class Task:
    """What fit() trains on and how it scores it: the part that differs between the renders
    and the photographic benchmark (mcdenoise/bench/photo/). fit() owns everything else: the
    optimiser, the schedule, the step order, non-finite skipping, logs, checkpoints, resume.

    ``dataset`` is map-style and indexed by the global sample number (StepBatches), each item
    {"input": (C_in, H, W), "target": (C_out, H, W)[, "mask": (1, H, W)]} float32, and a
    function of (seed, index) alone so that resuming is exact. ``decode`` maps the network's
    raw (N, C_out, H, W) output to the space of the target and the loss. ``validate(net, step)``
    (rank 0, None: no validation) returns scalars for val.csv with keys ``val_fields``;
    ``describe(step, scores)`` is its one-line summary. ``finish(net, summary, history)`` writes
    the model file at the last step and returns its path.
    """
    net: UNetConfig
    dataset: Any
    decode: Callable[[torch.Tensor], torch.Tensor]
    validate: Callable[[UNet, int], dict[str, Any]] | None
    val_fields: list[str]
    describe: Callable[[int, dict[str, Any]], str]
    finish: Callable[[UNet, dict[str, Any], list[dict]], str]
    about: str  # the start-of-run line's words on the data, e.g. "on 32 scenes, ..."
    init: dict[str, Any] | None = None  # weights a fresh run starts from (--init), else random
    l0_eps: float | None = None  # the annealed L0's epsilon, if not nn/loss.py's default


def self_ensemble(net: torch.nn.Module, task: Task, x: torch.Tensor, autocast: Any) -> torch.Tensor:
    """``net``'s prediction for the batch ``x`` in the target's space, averaged over the 8
    flips and transposes of the crops (--distill): (N, C_out, H, W) float32, no gradient."""
    import torch

    from mcdenoise.infer.ensemble import SIZES, ensemble

    with torch.no_grad(), autocast:
        return ensemble(lambda copy: task.decode(net(copy)), x, SIZES[-1]).float()


def fit(config: TrainConfig, task: Task, device: torch.device, rank: int = 0, world: int = 1,
        stop_at: int | None = None, deadline: float | None = None) -> dict[str, Any]:
    """Train ``task`` from scratch or from RUN's checkpoint up to ``stop_at`` (default:
    config.steps) or, when given, until ``deadline`` (time.monotonic() seconds; --minutes),
    whichever comes first: the run then ends there as if that were its last step. Of the
    config, fit uses the run directory, the optimisation fields (steps, batch, lr, rampdown,
    grad_clip, ema, loss, seed) and the logging/checkpoint cadence.

    Every rank runs this; with world > 1 the process group must exist (Ray Train makes it).
    Rank 0 validates, logs, checkpoints and, at the last step, writes the model file.
    Returns a summary (steps done, skipped, last validation, model path or None).
    """
    import torch

    from mcdenoise.nn import loss as losses
    from mcdenoise.nn.model import UNet, parameter_count
    from mcdenoise.train.dataset import StepBatches

    distributed = world > 1
    run = Path(config.output)
    run.mkdir(parents=True, exist_ok=True)
    lead = rank == 0
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True  # fixed crop sizes: let cuDNN pick its kernels
    torch.manual_seed(config.seed)
    net = UNet(task.net).to(device)
    # channels_last is faster for these convs on CUDA and on CPU (measured: 5.9 s
    # against 9.6 s for the same steps).
    net = net.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, betas=BETAS, eps=ADAM_EPS)
    start, skipped, elapsed, history, sessions = 0, 0, 0.0, [], []
    checkpoint = run / CHECKPOINT
    state = None
    if config.resume and checkpoint.exists():  # check_run has vetted the config
        state = load_checkpoint(checkpoint, device)
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start, skipped, elapsed = int(state["step"]), int(state["skipped"]), float(state["elapsed_s"])
        history = json.loads(state["history"])
        sessions = json.loads(state.get("sessions", "[]"))
        torch.set_rng_state(state["rng"]["torch"].cpu())
        if cuda and state["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state(state["rng"]["cuda"].cpu())
    else:
        if config.resume and lead:
            print(f"{run}: no checkpoint to resume from; starting from step 0", flush=True)
        if task.init is not None:  # after the random init, so the RNG state is the same
            net.load_state_dict(task.init)
    # The average of the weights (--ema): what validation sees and the model file holds. A
    # resumed run without one in its checkpoint starts it from the current weights.
    averaged = None
    if config.ema > 0:
        averaged = copy.deepcopy(net).requires_grad_(False)
        if state is not None and "ema" in state:
            averaged.load_state_dict(state["ema"])
    shown = averaged if averaged is not None else net  # validated and written
    # One record per invocation of a run (a resumed run's card lists them all).
    session = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "from_step": start,
               "to_step": start, "seconds": 0.0, "device": device.type}
    model = net
    if distributed:
        model = torch.nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if cuda else None)

    stop = min(stop_at or config.steps, config.steps)
    workers = config.loader_workers if config.loader_workers is not None else (4 if cuda else 0)
    loader = torch.utils.data.DataLoader(
        task.dataset, batch_sampler=StepBatches(start, stop, config.batch, rank, world),
        num_workers=workers, pin_memory=cuda, persistent_workers=False)
    loss_fn = losses.get(config.loss, *([task.l0_eps] if task.l0_eps is not None else []))
    validating = lead and task.validate is not None
    log = RunLog(run, start, task.val_fields) if lead else None
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda)

    def this_session(step: int) -> list[dict[str, Any]]:
        session.update(to_step=step, seconds=round(time.perf_counter() - began, 1))
        return sessions + [session]

    def summarize(step: int) -> dict[str, Any]:
        return {"step": step, "skipped": skipped, "validation": history[-1] if history else None,
                "model": None, "seconds": elapsed + time.perf_counter() - began,
                "sessions": this_session(step)}

    def save(step: int) -> None:
        rng = {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state() if cuda else None}
        save_checkpoint(checkpoint, {
            "step": step, "model": net.state_dict(), "optimizer": optimizer.state_dict(),
            "skipped": skipped, "elapsed_s": elapsed + time.perf_counter() - began,
            "history": json.dumps(history), "sessions": json.dumps(this_session(step)),
            "config": config_dict(config), "rng": rng,
            **({"ema": averaged.state_dict()} if averaged is not None else {})})

    def run_validation(step: int) -> None:
        result = task.validate(shown, step)
        result["step"] = step
        result["elapsed_s"] = round(elapsed + time.perf_counter() - began, 2)
        history.append(result)
        log.write("val", result)
        message = task.describe(step, result)
        bar.write(message) if bar is not None else print(message, flush=True)

    if lead:
        print(f"training {task.net.width}-wide U-Net ({parameter_count(net) / 1e6:.2f} M parameters, "
              f"{task.net.in_channels} input channels) {task.about}, "
              f"batch {config.batch} x {world} worker(s), {device}, "
              f"steps {start} -> {stop} of {config.steps}", flush=True)
    began = time.perf_counter()
    budget = None if deadline is None else max(deadline - time.monotonic(), 0.0)
    bar = None
    if lead:
        from tqdm import tqdm

        # With a time budget the bar counts its seconds; otherwise the steps.
        bar = tqdm(total=config.steps if budget is None else round(budget), initial=0 if budget
                   else start, unit="step" if budget is None else "s", disable=None,
                   desc="train" if budget is None else f"train ({budget / 60:.1f} min budget)",
                   dynamic_ncols=True)
        if start == 0 and validating and config.val_every:
            run_validation(0)  # the untrained network: the first point of the PSNR curve
    window_loss, window_count, window_start, grad_norm = 0.0, 0, time.perf_counter(), float("nan")
    completed, out_of_time = start, False
    try:
        for step, batch in enumerate(loader, start):
            spent = time.perf_counter() - began
            if budget is not None and spent >= budget:
                out_of_time = True
                break
            # With a budget, the schedule follows whichever of steps and time is further along.
            progress = step if budget is None else max(step, config.steps * spent / max(budget, 1e-9))
            lr = lr_at(progress, config.steps, config.lr, config.rampdown)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x = batch["input"].to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            y = batch["target"].to(device, non_blocking=True)
            mask = batch["mask"].to(device, non_blocking=True) if "mask" in batch else None
            if config.distill > 0:
                y = torch.lerp(y, self_ensemble(shown, task, x, autocast), config.distill)
            with autocast:
                out = task.decode(model(x))
            loss = loss_fn(out, y, progress=step / config.steps, mask=mask)
            finite = torch.isfinite(loss.detach()).float()
            if distributed:  # every rank must skip together, or DDP's all-reduce deadlocks
                torch.distributed.all_reduce(finite, op=torch.distributed.ReduceOp.MIN)
            ok = bool(finite.item())
            optimizer.zero_grad(set_to_none=True)
            if ok:
                loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(
                    net.parameters(), config.grad_clip if config.grad_clip > 0 else math.inf)
                grad_norm = float(norm)
                ok = math.isfinite(grad_norm)  # gradients are all-reduced: ranks agree
                if ok:
                    optimizer.step()
                    if averaged is not None:  # average += (1 - decay) (weights - average)
                        weight = 1.0 - ema_decay(step, config.ema)
                        with torch.no_grad():
                            for mean, value in zip(averaged.parameters(), net.parameters()):
                                mean.lerp_(value, weight)
                else:
                    optimizer.zero_grad(set_to_none=True)
            if not ok:
                skipped += 1
            else:
                window_loss += float(loss.detach())
                window_count += 1
            done = step + 1
            if not lead:
                continue
            bar.update(1) if budget is None else bar.update(
                min(round(time.perf_counter() - began), bar.total) - bar.n)
            if done % config.log_every == 0 or done == stop:
                now = time.perf_counter()
                rate = (done - max(start, done - config.log_every)) / max(now - window_start, 1e-9)
                mean = window_loss / window_count if window_count else float("nan")
                log.write("train", {"step": done, "loss": mean, "lr": lr, "grad_norm": grad_norm,
                                    "skipped": skipped, "steps_per_s": round(rate, 4),
                                    "crops_per_s": round(rate * config.batch * world, 3),
                                    "elapsed_s": round(elapsed + now - began, 2)})
                bar.set_postfix(loss=f"{mean:.4g}", lr=f"{lr:.2g}", skipped=skipped, refresh=False)
                window_loss, window_count, window_start = 0.0, 0, now
            if validating and config.val_every and (done % config.val_every == 0 or done == config.steps):
                run_validation(done)
            if (config.ckpt_every and done % config.ckpt_every == 0) or done == stop:
                save(done)
            completed = done
    except KeyboardInterrupt:
        if lead and completed > start:
            save(completed)  # the step in progress is lost, the ones before it are not
            # A usable model too: the weights of the last finished step.
            model_path = task.finish(shown, summarize(completed), history)
            print(f"\ninterrupted: checkpoint at step {completed} in {checkpoint} (continue with "
                  f"--resume), model of that step in {model_path}", file=sys.stderr, flush=True)
        raise
    finally:
        if bar is not None:
            bar.close()
        if log is not None:
            log.close()
    if start >= stop and lead:
        print(f"{run}: already at step {start} of {config.steps}; nothing to train", flush=True)
    final = completed if out_of_time else max(start, stop)
    if out_of_time and lead:
        print(f"the time budget ended the run at step {final} of {config.steps}", flush=True)
        save(final)
    summary = summarize(final)
    if lead and (final >= config.steps or out_of_time):
        if validating and (not history or history[-1]["step"] != final):
            run_validation(final)
            summary["validation"] = history[-1]
        summary["model"] = task.finish(shown, summary, history)
    return summary
