"""The task registry: every task module registers itself with `@register_task`; names are checked with choices."""

from __future__ import annotations

import pytest

from deepfake_lab.errors import BadInputError
from deepfake_lab.models.catalogue import create_model
from deepfake_lab.registry import MODELS
from deepfake_lab.train.tasks import TASKS, Task, create_task, list_tasks, register_task

EVERY_TASK = {
    "autoencoder", "stacked-autoencoder", "pca", "detection", "frequency-detection", "gan", "progan",
    "pix2pix", "cyclegan", "gan-cls", "swap",
}  # fmt: skip


def test_registry_lists_every_task_and_each_model_default() -> None:
    assert set(list_tasks()) == EVERY_TASK
    assert list_tasks("detector") == ["detection", "frequency-detection"]
    for entry in TASKS:
        assert isinstance(entry.factory, type) and issubclass(entry.factory, Task), entry.name
        assert entry.factory.__module__.startswith("deepfake_lab.train.tasks."), entry.name
    defaults = {e.tags["task"] for e in MODELS if "task" in e.tags}
    assert defaults <= EVERY_TASK


def test_unknown_task_and_bad_option_are_one_line_user_errors() -> None:
    with pytest.raises(BadInputError, match=r"unknown task 'nope'; known: autoencoder, cyclegan, detection"):
        create_task("nope", create_model("ae-dense", in_shape=(1, 8, 8)))
    with pytest.raises(BadInputError, match="bad task option for 'autoencoder'"):
        create_task("autoencoder", create_model("ae-dense", in_shape=(1, 8, 8)), bogus=1)


def test_a_name_registers_once() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_task("gan", family="gan")(Task)
