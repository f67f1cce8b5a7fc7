"""`import_mediapipe()` keeps matplotlib, the Tasks API and the unused solutions out of the face detector, and the
modules it holds out stay usable."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from support import FIXTURES

FACE_JPG = FIXTURES / "grace_hopper_face.jpg"


def _run(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_face_detector_does_not_import_matplotlib() -> None:
    code = f"""
        import sys
        from deepfake_lab.faces import create_detector
        from deepfake_lab.video import read_image
        img = read_image({str(FACE_JPG)!r})
        with create_detector("mediapipe") as det:
            print(len(det(img)))
        print(sorted(m for m in sys.modules if m.split(".")[0] == "matplotlib")[:3] or "none")
        print("mediapipe" in sys.modules, "mediapipe.python.solutions.drawing_utils" in sys.modules)
        held = ["mediapipe.tasks.python", "mediapipe.python.solutions.hands", "mediapipe.python.solutions.holistic",
                "mediapipe.python.solutions.objectron", "mediapipe.python.solutions.pose", "sounddevice"]
        print([m for m in held if m in sys.modules] or "none")
        """
    assert _run(code) == ["1", "none", "True", "False", "none"]


def test_drawing_modules_are_real_after_import() -> None:
    code = """
        import sys, types
        from deepfake_lab.faces.detect import _LazyModule, import_mediapipe
        mp = import_mediapipe()
        assert "matplotlib" not in sys.modules
        styles = mp.solutions.drawing_styles  # attribute access on the package imports the real module
        import mediapipe.python.solutions.drawing_utils as du
        print(type(du) is types.ModuleType and not isinstance(du, _LazyModule))
        print(callable(du.draw_landmarks), du.DrawingSpec is styles.DrawingSpec, mp.solutions.drawing_utils is du)
        print(du.plt.__name__, "matplotlib" in sys.modules, callable(du.plt.figure))
        print(callable(styles.get_default_face_mesh_contours_style))
        try:
            mp.solutions.no_such_module
        except AttributeError:
            print("AttributeError")
        # `mp.tasks` is `mediapipe.tasks.python`, as after a plain `import mediapipe`, on every access
        print(mp.tasks.vision.FaceDetector.__name__, mp.tasks is sys.modules["mediapipe.tasks.python"])
        print(mp.tasks.vision.FaceDetector.__name__, callable(mp.solutions.hands.Hands))
        try:
            mp.no_such_module
        except AttributeError:
            print("AttributeError")
        """
    assert _run(code) == ["True", "True", "True", "True", "matplotlib.pyplot", "True", "True", "True", "AttributeError",
                          "FaceDetector", "True", "FaceDetector", "True", "AttributeError"]  # fmt: skip
