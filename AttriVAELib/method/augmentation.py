"""Training-time augmentation: random in-plane flips and 90° rotations of the input cubes.

The official code augments with MONAI ``RandFlip`` on spatial axes 0 and 1 and ``RandRotate90`` in the
same plane, each with probability 0.1; the paper does not mention augmentation. These maps permute the
in-plane voxel grid exactly (no interpolation) and leave every shape attribute unchanged: volumes,
in-slice wall thickness and diameter, sphericity, infarct size and EF are invariant under them, and so is
the class. Flips mirror the anatomy (a left-handed heart), which no scan shows; probability 0.5 for each
of the three makes all eight in-plane symmetries of the square equally likely.
"""

from __future__ import annotations

__all__ = ["random_in_plane_symmetry"]

import torch


def random_in_plane_symmetry(volumes: torch.Tensor, probability: float,
                             generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip each volume along the two in-plane axes and rotate it by 90° in-plane, each independently with
    ``probability`` and independently per volume.

    Args:
        volumes: (B, C, S, H, W) with S the slice axis and H = W (the network's cube).
        probability: chance of each of the three maps, in [0, 1]; 0 returns ``volumes`` itself.
        generator: the random source (default: torch's global one, which checkpoints save).

    Returns:
        (B, C, S, H, W), a new tensor on ``volumes``' device and in its memory format (channels-last 3D or
        contiguous); ``volumes`` is not modified.
    """
    if probability == 0.0:
        return volumes
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"augmentation probability {probability} is not in [0, 1]")
    draws = torch.rand((3, volumes.shape[0]), generator=generator) < probability  # (3, B) on the CPU
    chosen = draws.to(volumes.device)[:, :, None, None, None, None]  # (3, B, 1, 1, 1, 1): map, volume
    out = torch.where(chosen[0], volumes.flip(-1), volumes)
    out = torch.where(chosen[1], out.flip(-2), out)
    out = torch.where(chosen[2], out.rot90(1, dims=(-2, -1)), out)
    channels_last = volumes.is_contiguous(memory_format=torch.channels_last_3d)
    return out.contiguous(memory_format=torch.channels_last_3d if channels_last else torch.contiguous_format)
