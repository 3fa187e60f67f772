"""Data-parallel training under ``torchrun`` (one process per GPU or per CPU socket, one or more machines).

``torchrun --nproc_per_node N -m AttriVAELib train ...`` sets RANK / WORLD_SIZE / LOCAL_RANK; training then
shards each epoch's order with a DistributedSampler and each process runs ``--batch-size`` volumes per step,
so one optimizer step sees a global batch of N × batch-size volumes. Two choices make the loss of a step
equal to the single-process loss on that global batch (``Testing/test_distributed.py`` checks it):

- the attribute loss is pairwise within a batch, so each process gathers z and the attributes of the whole
  global batch (with gradients) before computing it;
- batch normalisation uses the statistics of the global batch (:class:`GlobalBatchNorm`), as a single
  process would (``torch.nn.SyncBatchNorm`` does this only on GPUs; this one also works on CPUs with gloo).

DistributedDataParallel averages gradients over processes; every other loss term is a batch mean, so the
averaged gradient is the gradient of the global-batch loss. Only rank 0 writes files and reports progress.
"""

from __future__ import annotations

__all__ = ["Distributed", "GlobalBatchNorm", "gather", "joined", "use_global_batch_norm"]

import datetime
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


@dataclass(frozen=True)
class Distributed:
    """Where this process stands: ``world`` processes, this one is ``rank``."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


@contextmanager
def joined(device: torch.device) -> Iterator[tuple[Distributed, torch.device]]:
    """Join the process group torchrun described in the environment (gloo on CPU, NCCL on CUDA) and yield
    where this process stands and its device (its own GPU, cuda:LOCAL_RANK, under torchrun); a single
    process and ``device`` when there is no torchrun. Leaves the group it joined on exit, also on an error: a
    process that ends inside one can abort in the interpreter's teardown."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        yield Distributed(), device
        return
    context = Distributed(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    joins = not dist.is_initialized()
    if joins:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                timeout=datetime.timedelta(minutes=30))
    if device.type == "cuda":
        torch.cuda.set_device(context.local_rank)
        device = torch.device("cuda", context.local_rank)
    try:
        yield context, device
    finally:
        if joins:
            _LOSS_GROUP.clear()
            dist.destroy_process_group()


_LOSS_GROUP: list[dist.ProcessGroup] = []


def _loss_group() -> dist.ProcessGroup:
    """A process group of its own for the collectives inside the loss (batch statistics, gathered codes).
    DistributedDataParallel all-reduces gradients in the background during the backward pass; sharing its
    group would let the two streams of collectives pair up differently on different processes."""
    if not _LOSS_GROUP:
        _LOSS_GROUP.append(dist.new_group())  # every process reaches this at its first forward pass
    return _LOSS_GROUP[0]


def gather(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate every process's (B, ...) ``tensor`` along dim 0, in rank order (B equal everywhere);
    differentiable: each row receives the sum of every process's gradient for it. The identity in one
    process."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    return _Gather.apply(tensor, _loss_group())


class _Gather(torch.autograd.Function):
    """all_gather forward; backward all-reduces the gradient of the whole gathered tensor and keeps this
    process's rows (one collective that every backend has; torch.distributed.nn's versions are deprecated)."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor, group: dist.ProcessGroup) -> torch.Tensor:
        ctx.group, ctx.rows = group, tensor.shape[0]
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size(group))]
        dist.all_gather(parts, tensor.contiguous(), group=group)
        return torch.cat(parts)

    @staticmethod
    def backward(ctx: Any, gradient: torch.Tensor) -> tuple[torch.Tensor, None]:
        gradient = gradient.contiguous().clone()
        dist.all_reduce(gradient, group=ctx.group)
        start = dist.get_rank(ctx.group) * ctx.rows
        return gradient[start:start + ctx.rows], None


class _Sum(torch.autograd.Function):
    """Sum over processes (all_reduce), differentiable: the gradient is summed over processes too."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor, group: dist.ProcessGroup) -> torch.Tensor:
        ctx.group = group
        total = tensor.clone()
        dist.all_reduce(total, group=group)
        return total

    @staticmethod
    def backward(ctx: Any, gradient: torch.Tensor) -> tuple[torch.Tensor, None]:
        gradient = gradient.contiguous().clone()
        dist.all_reduce(gradient, group=ctx.group)
        return gradient, None


class GlobalBatchNorm(_BatchNorm):
    """Batch normalisation with the statistics of the global batch (all processes); the same parameters,
    buffers and state-dict keys as ``BatchNorm1d``/``3d``, so bundles load into the plain model."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        dtype, x = x.dtype, x.float()  # statistics in float32, also under bf16 autocast
        dims = [0, *range(2, x.dim())]  # all but the channel axis
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = x.new_tensor([float(x.numel() // x.shape[1])])
        sums = _Sum.apply(torch.cat([x.sum(dims), count]), _loss_group())
        total = sums[-1]
        mean = sums[:-1] / total
        centred = x - mean.view(shape)
        variance = _Sum.apply(centred.square().sum(dims), _loss_group()) / total  # biased
        with torch.no_grad():
            self.num_batches_tracked += 1
            momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
            self.running_mean.lerp_(mean.detach(), momentum)
            self.running_var.lerp_(variance.detach() * total / (total - 1), momentum)  # unbiased
        normalised = centred * torch.rsqrt(variance.view(shape) + self.eps)
        return (normalised * self.weight.view(shape) + self.bias.view(shape)).to(dtype)

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() not in (2, 5):
            raise ValueError(f"GlobalBatchNorm expects (B, C) or (B, C, D, H, W) inputs, got {x.dim()}D")


def use_global_batch_norm(model: nn.Module) -> nn.Module:
    """Replace every BatchNorm layer of ``model`` (in place) by a :class:`GlobalBatchNorm` holding the same
    parameters and buffers; returns ``model``."""
    for name, child in model.named_children():
        if isinstance(child, _BatchNorm) and not isinstance(child, GlobalBatchNorm):
            replacement = GlobalBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                          child.track_running_stats, device=child.weight.device)
            replacement.load_state_dict(child.state_dict())
            setattr(model, name, replacement)
        else:
            use_global_batch_norm(child)
    return model
