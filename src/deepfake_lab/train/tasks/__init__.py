"""Training tasks, registered by name like models: one module per family, each class decorated with
`@register_task(name, family=...)`; importing this package imports every module (one line each).

Example:
    >>> from deepfake_lab.train.tasks import list_tasks
    >>> {"autoencoder", "gan", "detection", "swap"} <= set(list_tasks())
    True
"""

from deepfake_lab.train.tasks import (  # each module registers its tasks into TASKS
    autoencoder,  # noqa: F401
    detection,  # noqa: F401
    gan,  # noqa: F401
    gan_image,  # noqa: F401
    gan_text,  # noqa: F401
    swap,  # noqa: F401
)
from deepfake_lab.train.tasks.base import (
    TASKS,
    LossFn,
    Phase,
    Task,
    check_task_data,
    create_task,
    list_tasks,
    register_task,
)

__all__ = ["TASKS", "LossFn", "Phase", "Task", "check_task_data", "create_task", "list_tasks", "register_task"]
