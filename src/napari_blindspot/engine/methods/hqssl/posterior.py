"""HQ-SSL likelihood and posterior: negative log-likelihood, posterior mean and std.

Notation per pixel (``C`` channels): prior ``x ~ N(mu, Sigma_x)`` predicted by the
blind-spot network, noise ``y | x ~ N(x, Sigma_n)``, so ``y ~ N(mu, Sigma_y)`` with
``Sigma_y = Sigma_x + Sigma_n``.  All maths runs in float32 (or the input's dtype if
wider), never float16.  Shapes: means ``(B, C, *sp)``; covariances ``(B, *sp, C, C)``;
variances (the single-channel case) ``(B, 1, *sp)``.
"""

from __future__ import annotations

import torch


def _wide(t: torch.Tensor) -> torch.Tensor:
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


# ---------------------------------------------------------------- one channel
def nll_diagonal(y: torch.Tensor, mu: torch.Tensor, var_x: torch.Tensor,
                 var_n: torch.Tensor) -> torch.Tensor:
    """Per-pixel NLL of ``y`` under ``N(mu, var_x + var_n)`` (without the constant)."""
    y, mu, var_x, var_n = map(_wide, (y, mu, var_x, var_n))
    var_y = var_x + var_n
    return 0.5 * ((y - mu) ** 2 / var_y + torch.log(var_y))


def posterior_mean_diagonal(y: torch.Tensor, mu: torch.Tensor, var_x: torch.Tensor,
                            var_n: torch.Tensor) -> torch.Tensor:
    """``(y * var_x + mu * var_n) / (var_x + var_n)``."""
    y, mu, var_x, var_n = map(_wide, (y, mu, var_x, var_n))
    return (y * var_x + mu * var_n) / (var_x + var_n)


def posterior_std_diagonal(var_x: torch.Tensor, var_n: torch.Tensor) -> torch.Tensor:
    """``sqrt(var_x * var_n / (var_x + var_n))``."""
    var_x, var_n = map(_wide, (var_x, var_n))
    return torch.sqrt(var_x * var_n / (var_x + var_n))


# ---------------------------------------------------------------- several channels
def lower_triangular(components: torch.Tensor, channels: int) -> torch.Tensor:
    """Build ``L`` ``(B, *sp, C, C)`` from ``C(C+1)/2`` components ``(B, K, *sp)`` (row-major)."""
    comps = _wide(components).movedim(1, -1)
    L = comps.new_zeros(comps.shape[:-1] + (channels, channels))
    rows, cols = torch.tril_indices(channels, channels)
    L[..., rows, cols] = comps
    return L


def nll_full(y: torch.Tensor, mu: torch.Tensor, cov_x: torch.Tensor,
             var_n: torch.Tensor) -> torch.Tensor:
    """Per-pixel ``1/2 log det Sigma_y + 1/2 d^T Sigma_y^-1 d`` with diagonal noise ``var_n``."""
    d = (_wide(y) - _wide(mu)).movedim(1, -1)[..., None]  # (B, *sp, C, 1)
    cov_y = cov_x + torch.diag_embed(_wide(var_n).movedim(1, -1))
    chol = torch.linalg.cholesky(cov_y)
    sol = torch.cholesky_solve(d, chol)
    quad = (d * sol).sum(dim=(-2, -1))
    logdet = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    return 0.5 * (quad + logdet)


def posterior_full(y: torch.Tensor, mu: torch.Tensor, cov_x: torch.Tensor,
                   var_n: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean ``(Sx^-1 + Sn^-1)^-1 (Sx^-1 mu + Sn^-1 y)`` and per-channel std.

    Computed in the equivalent, stable form ``mu + Sx Sy^-1 (y - mu)`` and
    ``Sx - Sx Sy^-1 Sx``; returns ``(mean (B, C, *sp), std (B, C, *sp))``.
    """
    y_, mu_ = _wide(y).movedim(1, -1)[..., None], _wide(mu).movedim(1, -1)[..., None]
    cov_y = cov_x + torch.diag_embed(_wide(var_n).movedim(1, -1))
    gain = torch.linalg.solve(cov_y, cov_x).transpose(-2, -1)  # Sx Sy^-1 (both symmetric)
    mean = mu_ + gain @ (y_ - mu_)
    cov_post = cov_x - gain @ cov_x
    std = torch.sqrt(torch.clamp(torch.diagonal(cov_post, dim1=-2, dim2=-1), min=0.0))
    return mean[..., 0].movedim(-1, 1), std.movedim(-1, 1)

