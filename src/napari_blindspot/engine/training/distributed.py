"""What differs when several processes train one model: torch DistributedDataParallel (DDP).

``torchrun`` starts one process (a *rank*) per GPU, or several on CPUs, on one or more nodes::

    torchrun --nproc-per-node 4 -m napari_blindspot.cli train img.tif --distributed -o m.safetensors

:func:`process_group` joins the processes (NCCL on CUDA GPUs, gloo on CPUs) and gives a
:class:`Distributed`, which :class:`~.training.TrainingRun` asks for the few things that differ
from one process; :class:`SingleProcess` answers the same questions for one process, so the
training loop stays one loop.  What a rank does differently:

* **Data.** Every rank reads the same (lazy) image and samples its own patches: its sampling and
  masking streams are seeded from the configured seed and its rank (:func:`rank_seeds`), so a run
  is reproducible, and rank 0's streams are those of a single-process run.  Each step therefore
  trains on ``world_size x batch_size`` patches; an epoch takes ``world_size`` times fewer steps.
* **Gradients.** The method's loss runs inside DDP (:meth:`Distributed.training_loss`), which
  broadcasts rank 0's initial weights and noise model and averages the gradients of every
  parameter that trains from the start.  Parameters that start frozen and may be unfrozen later
  (HQ-SSL's noise gain with ``noise_fit="fine-tune"``) are not DDP's: their gradients are averaged
  by :meth:`Distributed.after_backward` on the steps they have one.  A noise model kept fixed has
  no gradients and stays rank 0's calibration.
* **BatchNorm.** Plain BatchNorm, not SyncBatchNorm: each rank normalises with the statistics of
  its own batch of ``batch_size`` patches, as many as a single-process run uses, so the layers see
  the batch statistics they are configured for; SyncBatchNorm would add two collectives per layer
  and step (slow across nodes) to estimate statistics of a batch ``world_size`` times larger than
  single-process training ever had.  The running statistics (what prediction uses) are rank 0's:
  DDP broadcasts them at each step and :meth:`Distributed.broadcast_buffers` before every
  validation and at the end, so every rank validates and snapshots the same model.
* **Time and stopping.** Every step starts with one small all-reduce (:meth:`Distributed.agree`):
  rank 0's clock and whether any rank was asked to stop.  The time budget, the learning-rate
  schedule and the fine-tuning switch therefore change at the same step on every rank.
* **Validation.** Each rank validates the same held-out patches; the losses are averaged, so the
  choice of the best model is the same everywhere.
* **CPU threads.** Ranks on one node share its cores: each uses ``cores // local_world_size``
  threads, fixed (the thread tuner of :mod:`.threads` times its own steps, but a synchronised step
  lasts as long as the slowest rank's, so it could not tell its own thread count's effect).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import inspect
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from ..errors import ConfigError
from ..system.threads import usable_cores

#: The environment ``torchrun`` (and ``torch.distributed.run``) gives every process.
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
LAUNCH_HINT = ("start it with torchrun, e.g. `torchrun --nproc-per-node 2 -m napari_blindspot.cli "
               "train IMAGE.tif --distributed -o model.safetensors`")

LossFn = Callable[[torch.Tensor, torch.Generator, "torch.Tensor | None"], torch.Tensor]


def rank_seeds(seed: int, rank: int) -> tuple[int | np.random.SeedSequence, int]:
    """The seeds of rank ``rank``'s patch sampler (for :func:`numpy.random.default_rng`) and of its
    masking generator (:class:`torch.Generator`), derived from the configured ``seed``.

    Rank 0 (and a single process) gets ``(seed, seed + 1)``; rank ``r > 0`` independent streams
    spawned from ``seed`` (``SeedSequence(seed, spawn_key=(r,))``).
    """
    if rank == 0:
        return seed, seed + 1
    sequence = np.random.SeedSequence(seed, spawn_key=(rank,))
    return sequence, int(sequence.generate_state(1, np.uint64)[0] >> np.uint64(1))


class SingleProcess:
    """One process training alone: the answers :class:`Distributed` gives, without collectives."""

    rank = 0
    world_size = 1
    is_main = True
    #: None: the run picks its device from the configuration.
    device: torch.device | None = None

    def rank_seeds(self, seed: int) -> tuple[int | np.random.SeedSequence, int]:
        return rank_seeds(seed, 0)

    def cpu_threads(self) -> int | None:
        """CPU threads for this process; None: the thread tuner decides."""
        return None

    def training_loss(self, method: Any, net: nn.Module) -> LossFn:
        """The training loss ``(batch, generator, channels) -> loss`` of ``method`` on ``net``."""
        return functools.partial(method.loss, net)

    def after_backward(self) -> None:
        """After the backward pass (see :class:`Distributed`)."""

    def agree(self, elapsed_s: float, stop: bool) -> tuple[float, bool]:
        """The elapsed seconds and whether to stop, the same on every rank."""
        return elapsed_s, stop

    def mean(self, value: float) -> float:
        """``value`` averaged over the ranks."""
        return value

    def broadcast_buffers(self, net: nn.Module) -> None:
        """Give every rank rank 0's buffers of ``net`` (BatchNorm running statistics)."""

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` (any picklable object), on every rank."""
        return obj

    def barrier(self) -> None:
        """Wait until every rank is here."""

    def describe(self) -> str:
        return "one process"


class Distributed(SingleProcess):
    """This process's place among the ranks of an initialised default process group.

    Made by :func:`process_group`; pass it to :class:`~.training.TrainingRun` as ``distributed``.
    ``device``: this rank's device (``cuda:LOCAL_RANK``, or the CPU).
    """

    def __init__(self, rank: int, world_size: int, local_rank: int, local_world_size: int,
                 device: torch.device) -> None:
        self.rank, self.world_size = rank, world_size
        self.local_rank, self.local_world_size = local_rank, local_world_size
        self.device = device
        self.is_main = rank == 0
        self._unmanaged: list[nn.Parameter] = []

    @property
    def backend(self) -> str:
        return dist.get_backend()

    def rank_seeds(self, seed: int) -> tuple[int | np.random.SeedSequence, int]:
        return rank_seeds(seed, self.rank)

    def cpu_threads(self) -> int | None:
        return max(1, usable_cores() // max(1, self.local_world_size))

    def training_loss(self, method: Any, net: nn.Module) -> LossFn:
        """The loss, computed inside DDP (so that every parameter it uses is synchronised).

        Call after the optimizer is built: the parameters frozen then (``requires_grad`` False)
        are left to :meth:`after_backward`.  DDP broadcasts rank 0's parameters (all of them,
        frozen ones too) and buffers here.
        """
        self._unmanaged = [p for p in net.parameters() if not p.requires_grad]
        # device_ids=None: the inputs stay where the loop put them (DDP moves nothing); buffers
        # (BatchNorm statistics) are rank 0's at every forward, DDP's default.
        return nn.parallel.DistributedDataParallel(_MethodLoss(method, net), device_ids=None)

    def after_backward(self) -> None:
        """Average the gradients DDP does not manage (parameters unfrozen during training)."""
        for p in self._unmanaged:
            if p.grad is not None:
                dist.all_reduce(p.grad)
                p.grad.div_(self.world_size)

    def agree(self, elapsed_s: float, stop: bool) -> tuple[float, bool]:
        t = torch.tensor([elapsed_s if self.is_main else 0.0, float(stop)], dtype=torch.float64,
                         device=self.device)
        dist.all_reduce(t)
        elapsed, stops = t.tolist()
        return elapsed, stops > 0

    def mean(self, value: float) -> float:
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t.item()) / self.world_size

    def broadcast_buffers(self, net: nn.Module) -> None:
        for b in net.buffers():
            dist.broadcast(b, 0)

    def broadcast_object(self, obj: Any) -> Any:
        box = [obj]
        dist.broadcast_object_list(box, 0, device=self.device if self.device.type == "cuda" else None)
        return box[0]

    def barrier(self) -> None:
        if self.device.type == "cuda":
            dist.barrier(device_ids=[self.device.index])
        else:
            dist.barrier()

    def describe(self) -> str:
        nodes = max(1, self.world_size // max(1, self.local_world_size))
        where = f"{self.world_size} processes on {nodes} node{'s' if nodes != 1 else ''}"
        return f"{where}, {self.backend}"


class _MethodLoss(nn.Module):
    """``forward`` is the method's training loss on ``net``: what DDP wraps."""

    def __init__(self, method: Any, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self._method = method

    def forward(self, batch: torch.Tensor, generator: torch.Generator,
                channels: torch.Tensor | None = None) -> torch.Tensor:
        return self._method.loss(self.net, batch, generator, channels)


def launched_by_torchrun(environ: dict[str, str] | None = None) -> bool:
    """Whether this process was started by ``torchrun`` (its variables are set)."""
    env = os.environ if environ is None else environ
    return all(name in env for name in TORCHRUN_VARIABLES)


def rank_device(name: str, local_rank: int, local_world_size: int) -> torch.device:
    """This rank's device for the device setting ``name`` (``auto``, ``cpu`` or ``cuda``):
    GPU ``local_rank`` where CUDA is asked for or available, else the CPU."""
    name = (name or "auto").lower()
    cuda = torch.cuda.is_available()
    if name == "cpu" or (name == "auto" and not cuda):
        return torch.device("cpu")
    if name not in ("auto", "cuda"):
        raise ConfigError(f"--device {name!r} with --distributed: torchrun gives each process its own "
                          "GPU; use --device cuda (or auto), or cpu.")
    if not cuda:
        raise ConfigError("--device cuda with --distributed, but no CUDA GPU is available here: use "
                          "--device cpu (gloo) or run where the GPUs are.")
    count = torch.cuda.device_count()
    if local_world_size > count:
        raise ConfigError(f"{local_world_size} processes on this node but {count} GPU(s): start one "
                          f"process per GPU (torchrun --nproc-per-node {count}).")
    return torch.device("cuda", local_rank)


@contextlib.contextmanager
def process_group(device: str = "auto", timeout_s: float | None = None) -> Iterator[Distributed]:
    """Join the processes ``torchrun`` started (NCCL on GPUs, gloo on CPUs); leave on exit.

    Raises :class:`ConfigError` when this process was not started by ``torchrun``.
    ``timeout_s``: how long collectives wait for a missing rank (torch's default otherwise).
    """
    if not launched_by_torchrun():
        raise ConfigError(f"--distributed training needs several processes: {LAUNCH_HINT}.")
    env = os.environ
    rank, world = int(env["RANK"]), int(env["WORLD_SIZE"])
    local_rank = int(env["LOCAL_RANK"])
    local_world = int(env.get("LOCAL_WORLD_SIZE", world))
    dev = rank_device(device, local_rank, local_world)
    kwargs: dict[str, Any] = {}
    if timeout_s is not None:
        kwargs["timeout"] = datetime.timedelta(seconds=timeout_s)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
        if "device_id" in inspect.signature(dist.init_process_group).parameters:  # torch >= 2.3
            kwargs["device_id"] = dev  # binds the communicator to this GPU at once
        dist.init_process_group("nccl", **kwargs)
    else:
        dist.init_process_group("gloo", **kwargs)
    try:
        yield Distributed(rank, world, local_rank, local_world, dev)
    finally:
        dist.destroy_process_group()
