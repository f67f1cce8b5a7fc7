"""The lecture's claims about autoencoders, checked on real digits (sklearn's 8×8 handwritten digits)."""

from __future__ import annotations

import torch

from deepfake_lab.losses import jacobian_frobenius, mse_per_pixel
from deepfake_lab.train.tasks.autoencoder import corrupt


def _all_train(trainer):
    return trainer.train_data.batch(torch.arange(len(trainer.train_data))).x


def test_linear_autoencoder_reaches_pca(train_quick):
    """An AE without activations and k hidden units reaches PCA's error with k components (within 5 %)."""
    k = 8
    lin, _ = train_quick(
        "ae-linear", steps=2000, model_kwargs={"latent_dim": k}, lr=1e-2, batch_size=256, scheduler="cosine"
    )
    pca, _ = train_quick("pca", steps=1, model_kwargs={"n_components": k})
    x = _all_train(lin)
    with torch.no_grad():
        err_ae = float(mse_per_pixel(lin.model(x), x))
        err_pca = float(mse_per_pixel(pca.model(x), x))
    assert err_pca <= err_ae * 1.001  # PCA is the optimum of the linear problem
    assert err_ae <= err_pca * 1.05


def test_sparse_autoencoder_mean_activation_reaches_rho(train_quick):
    rho = 0.05
    kw = {"latent_dim": 64}
    sparse, _ = train_quick(
        "ae-sparse", steps=1500, model_kwargs=kw, task_kwargs={"sparsity_beta": 3.0, "sparsity_rho": rho}
    )
    plain, _ = train_quick("ae-sparse", steps=1500, model_kwargs=kw, task_kwargs={"sparsity_beta": 0.0})
    x = sparse.eval_batch.x
    with torch.no_grad():
        act_sparse = float(sparse.model.encode(x).mean())
        act_plain = float(plain.model.encode(x).mean())
    assert abs(act_sparse - rho) < 0.02
    assert abs(act_plain - rho) > 0.02


def test_contractive_autoencoder_has_smaller_jacobian(train_quick):
    kw = {"latent_dim": 64}
    cae, r_cae = train_quick("ae-contractive", steps=1500, model_kwargs=kw, task_kwargs={"contractive_lambda": 0.05})
    plain, r_plain = train_quick("ae-contractive", steps=1500, model_kwargs=kw, task_kwargs={"contractive_lambda": 0.0})
    x = cae.eval_batch.x
    j_cae, j_plain = float(jacobian_frobenius(cae.model, x)), float(jacobian_frobenius(plain.model, x))
    assert j_cae < 0.7 * j_plain, (j_cae, j_plain)
    # similar reconstruction error: the penalty costs at most a third more error
    assert r_cae.eval["eval_mse"] < 1.35 * r_plain.eval["eval_mse"]


def test_denoising_autoencoder_beats_plain_on_noisy_inputs(train_quick):
    """For masking noise (ν) and additive Gaussian noise, a DAE trained on that noise wins on noisy inputs."""
    kw = {"latent_dim": 32}
    plain, _ = train_quick("ae-dense", steps=1500, model_kwargs=kw)
    x = plain.eval_batch.x
    for noise, level in (("mask", 0.3), ("gaussian", 0.3)):
        dae, _ = train_quick(
            "ae-dense", steps=1500, model_kwargs=kw, task_kwargs={"noise": noise, "noise_level": level}
        )
        torch.manual_seed(1)
        x_noisy = corrupt(x, noise, level)
        with torch.no_grad():
            err_dae = float(mse_per_pixel(dae.model(x_noisy), x))
            err_plain = float(mse_per_pixel(plain.model(x_noisy), x))
        assert err_dae < 0.8 * err_plain, (noise, err_dae, err_plain)


def test_stacked_pretraining_beats_random_init_with_few_labels(train_quick):
    """100 labels, same classifier and fine-tuning budget; only the greedy pretraining differs."""
    kw = {"layers": [256, 64], "activation": "sigmoid"}
    accs = {}
    for pretrain in (0, 1000):
        trainer, result = train_quick(
            "ae-stacked",
            steps=2 * pretrain + 300,
            model_kwargs=kw,
            lr=3e-3,
            task_kwargs={"pretrain_steps": pretrain, "n_labels": 100},
        )
        assert len(trainer.task.labelled) == 100
        accs[pretrain] = result.eval["eval_accuracy"]
    assert accs[1000] > accs[0] + 0.02, accs
