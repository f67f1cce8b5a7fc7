"""The closed-loop detection benchmark (`deepfake-lab bench ...`).

* `manifest` — the benchmark folder format: `ManifestRow`, `read_manifest`, the split-discipline check;
* `methods` — the fake-generation methods, one registered factory each (`BENCH_METHODS`);
* `build` — `bench build`: real faces of the corpus against every method, at every compression level;
* `runner` — benchmark images as tensors, detector predictions, cached training runs through the one Trainer;
* `experiments` — `bench eval`'s experiments (in-domain, quality, method matrices, evolution, GAN track);
* `report` — `bench eval`'s summary, plots and HTML page;
* `evaluate` — `bench eval` itself: `EvalOptions`, `evaluate_bench`;
* `face_protocol` — `bench faces` / `faces-eval`: the identity-disjoint, cross-corpus face benchmark;
* `face_gan` — `bench faces --gan`: face GANs trained on the train people, sampled as fakes of calib/test.

Import from the submodules: this `__init__` imports nothing, so a command loads only the parts it uses.
"""
