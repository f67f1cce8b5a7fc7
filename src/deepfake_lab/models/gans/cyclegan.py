"""CycleGAN (Zhu et al., ICCV 2017): unpaired translation A <-> B with two generators and two PatchGANs.

G_AB: A -> B and G_BA: B -> A are ResNet generators (c7s1-w, two stride-2 downs, residual blocks, two
stride-2 ups, c7s1-C, instance norm, reflection padding); D_A and D_B are unconditional PatchGANs. The task
adds the cycle-consistency loss ‖G_BA(G_AB(a)) - a‖₁ + ‖G_AB(G_BA(b)) - b‖₁ and the identity loss
‖G_BA(a) - a‖₁ + ‖G_AB(b) - b‖₁, and feeds the discriminators from a pool of past fakes.

On two facesets (identity A, identity B) this is a GAN face swap without paired frames.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from deepfake_lab.models.gans.pix2pix import PatchDiscriminator, check_patch_layers
from deepfake_lab.registry import register_model


def _init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class ResidualBlock(nn.Module):
    """x + conv-IN-ReLU-conv-IN(x), 3×3 convs with reflection padding; [B, C, H, W] -> same."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """image [B, C, S, S] in [-1, 1] -> image [B, C, S, S] in [-1, 1] (S divisible by 4).

    Args:
        channels: C of both domains.
        width: channels of the first stage (then 2·width, 4·width in the residual trunk).
        n_blocks: residual blocks at S/4 (the paper: 6 at 128 px, 9 at 256 px).
    """

    def __init__(self, *, channels: int = 3, width: int = 32, n_blocks: int = 6) -> None:
        super().__init__()
        w = int(width)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(channels, w, 7),
            nn.InstanceNorm2d(w),
            nn.ReLU(True),
        ]
        for c in (w, 2 * w):
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1), nn.InstanceNorm2d(2 * c), nn.ReLU(True)]
        layers += [ResidualBlock(4 * w) for _ in range(n_blocks)]
        for c in (4 * w, 2 * w):
            layers += [
                nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1),
                nn.InstanceNorm2d(c // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(w, channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        _init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class CycleGAN(nn.Module):
    """The four networks; `translate(x, "ab")` = G_AB(x), `translate(x, "ba")` = G_BA(x)."""

    def __init__(
        self, *, g_ab: nn.Module, g_ba: nn.Module, d_a: nn.Module, d_b: nn.Module, out_shape: Sequence[int]
    ) -> None:
        super().__init__()
        self.g_ab, self.g_ba, self.d_a, self.d_b = g_ab, g_ba, d_a, d_b
        self.out_shape = tuple(int(v) for v in out_shape)

    @property
    def generators(self) -> list[nn.Module]:
        return [self.g_ab, self.g_ba]

    @property
    def discriminators(self) -> list[nn.Module]:
        return [self.d_a, self.d_b]

    def translate(self, x: Tensor, direction: str = "ab") -> Tensor:
        """x [B, C, S, S] in [-1, 1] -> the other domain, same shape."""
        if direction not in ("ab", "ba"):
            raise ValueError(f"direction must be 'ab' or 'ba', got {direction!r}")
        return self.g_ab(x) if direction == "ab" else self.g_ba(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.g_ab(x)


@register_model("cyclegan", family="gan", task="cyclegan", conv=True)
def cyclegan(
    *,
    in_shape: Sequence[int] = (3, 64, 64),
    width: int = 32,
    n_blocks: int = 6,
    d_width: int = 32,
    d_layers: int = 3,
) -> CycleGAN:
    """CycleGAN: two ResNet generators + two PatchGANs (facesets: the RGB of the RGB + mask crops)."""
    c, h, w = (int(v) for v in in_shape)
    c = 3 if c == 4 else c  # a faceset carries its face mask as a 4th channel; translate the RGB
    if h != w or h % 4:
        raise ValueError(f"cyclegan needs square images with a side divisible by 4, got {h}x{w}")
    check_patch_layers(h, d_layers)
    return CycleGAN(
        g_ab=ResnetGenerator(channels=c, width=width, n_blocks=n_blocks),
        g_ba=ResnetGenerator(channels=c, width=width, n_blocks=n_blocks),
        d_a=PatchDiscriminator(cond_channels=0, channels=c, width=d_width, n_layers=d_layers),
        d_b=PatchDiscriminator(cond_channels=0, channels=c, width=d_width, n_layers=d_layers),
        out_shape=(c, h, w),
    )
