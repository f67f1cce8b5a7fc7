"""torch.distributed glue for the one Trainer and for sharded scans (`torchrun ... -m deepfake_lab ...`).

Launch with torchrun; it sets RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT. Without those
variables everything here is a no-op and a run is a plain single process.

Why gradients are averaged here instead of wrapping nets in `DistributedDataParallel`: tasks call their
nets' own methods (`model.encode`, `decoders[...]`, a GAN's G inside the D phase) which a DDP wrapper hides,
and a GAN's D phase leaves G's parameters without gradients, which DDP only tolerates with
`find_unused_parameters` and an extra graph walk. One all-reduce of a flat bucket per optimizer step, plus
a broadcast of rank 0's buffers (BatchNorm statistics, as DDP's `broadcast_buffers`), is the same
arithmetic DDP performs, works for every task's phases and keeps tasks unaware of distribution.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from deepfake_lab.train.dist_env import DistInfo, env_info


def init_distributed(device_type: str = "cpu", timeout_s: float = 1800.0) -> DistInfo:
    """Join the process group torchrun describes: gloo on CPU, nccl on CUDA. Idempotent."""
    info = env_info()
    if not info.enabled or dist.is_initialized():
        return info
    backend = "nccl" if device_type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(info.local_rank)
    dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
    return info


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _comm_device(t: torch.Tensor) -> torch.Tensor:
    return t.cuda() if dist.get_backend() == "nccl" and not t.is_cuda else t


def average_gradients(params: Iterable[nn.Parameter]) -> None:
    """Replace each gradient by its mean over ranks (one all-reduce of one flat bucket per dtype).

    Parameters without a gradient on this step are skipped on every rank alike (ranks run the same phases).
    """
    if not active():
        return
    world = dist.get_world_size()
    grads = [p.grad for p in params if p.grad is not None]
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for g in grads:
        by_dtype.setdefault(g.dtype, []).append(g)
    for bucket in by_dtype.values():
        flat = _flatten_dense_tensors(bucket)
        dist.all_reduce(flat)
        flat /= world
        for g, synced in zip(bucket, _unflatten_dense_tensors(flat, bucket), strict=True):
            g.copy_(synced)


def broadcast_module(net: nn.Module, *, buffers_only: bool = False) -> None:
    """Copy rank 0's parameters (and buffers) to every rank."""
    if not active():
        return
    tensors = [] if buffers_only else [p.data for p in net.parameters()]
    tensors += [b for b in net.buffers() if b.is_floating_point() or b.dtype in (torch.int64, torch.int32)]
    for t in tensors:
        dist.broadcast(t, src=0)


def mean_scalars(values: dict[str, float]) -> dict[str, float]:
    """Mean of each named scalar over ranks (every rank must pass the same keys)."""
    if not active() or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64)
    dist.all_reduce(t)
    t /= dist.get_world_size()
    return dict(zip(keys, t.tolist(), strict=True))


def broadcast_object(obj: Any) -> Any:
    """Rank 0's `obj` on every rank (picklable objects we built ourselves, never user files)."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's `obj`, in rank order, on every rank."""
    if not active():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if active():
        dist.barrier()


def any_rank(flag: bool) -> bool:
    """True on every rank when `flag` is true on at least one (e.g. a Ctrl-C seen by one process)."""
    if not active():
        return flag
    t = torch.tensor([1 if flag else 0])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def shard(items: list[Any], info: DistInfo | None = None) -> list[Any]:
    """This rank's share of `items`: every world_size-th item starting at its rank (stable, disjoint)."""
    info = info or env_info()
    return items[info.rank :: info.world_size]


def shutdown(*, wait: bool = False) -> None:
    """Leave the process group. With `wait` (only after a clean finish, when every rank gets here), ranks first
    wait for each other, so that none closes its connections while a peer is still between its last
    collective and here: gloo aborts a process whose peer vanished under it."""
    if dist.is_available() and dist.is_initialized():
        if wait and active():
            with contextlib.suppress(RuntimeError):  # a peer already failed: nothing left to wait for
                dist.barrier()
        dist.destroy_process_group()
