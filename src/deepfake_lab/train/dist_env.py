"""Where this process stands in a torchrun job (rank, world size), read from the environment without torch,
so that commands that only ask "am I sharded?" (e.g. `detect`) start without importing it."""

from __future__ import annotations

import os
from dataclasses import dataclass

from deepfake_lab.errors import BadInputError

__all__ = ["DistInfo", "env_info"]


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_info() -> DistInfo:
    """Rank, world size and local rank from torchrun's environment (1 process when unset)."""
    try:
        return DistInfo(
            int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))
        )
    except ValueError as exc:
        raise BadInputError(f"bad torchrun environment: {exc}") from None
