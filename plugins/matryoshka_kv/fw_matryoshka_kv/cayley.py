"""Cayley parametrisation of the orthogonal bases (MatryoshkaKV, Sec. 3.2).

``U = Cayley(X) = (I - A/2)^-1 (I + A/2)`` with the skew-symmetric ``A = X - X^T``: orthogonal with
det +1 for any unconstrained ``X``, so plain AdamW on ``X`` keeps ``U`` on the orthogonal group.
``inverse_cayley`` maps an orthogonal basis (e.g. PCA eigenvectors) back to an ``X``.
"""

from __future__ import annotations

import torch

from framework import FwError


def cayley(X: torch.Tensor) -> torch.Tensor:
    """``Cayley(X)`` for ``X`` of shape (..., d, d), solved in float64 and returned in the dtype of
    ``X`` (float32 for the module parameters). A PCA basis maps to an ``X`` with large entries
    (cond(I + U) up to 1e6), where a float32 solve leaves |U^T U - I| near 1e-3; in float64 it is
    about 1e-12, and about 1e-7 after the cast to float32. The solve is (g, d, d) per layer."""
    work = X.double()
    A = work - work.transpose(-1, -2)
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device).expand_as(A)
    U = torch.linalg.solve(eye - A / 2, eye + A / 2)
    return U.to(X.dtype) if X.dtype in (torch.float32, torch.float64) else U.float()


def reachable_basis(U: torch.Tensor) -> torch.Tensor:
    """Flip column signs so that diag(U) >= 0 and det(U) = +1 (the Cayley map reaches only
    rotations without eigenvalue -1). Column signs do not change the spanned subspaces, so a PCA
    basis stays a PCA basis. ``U``: (d, d)."""
    U = U.clone()
    signs = torch.where(torch.diagonal(U) < 0, -1.0, 1.0).to(U.dtype)
    U = U * signs
    if torch.linalg.det(U) < 0:
        j = int(torch.diagonal(U).abs().argmin())
        U[:, j] = -U[:, j]
    return U


def inverse_cayley(U: torch.Tensor, where: str = '', tol: float | None = None) -> torch.Tensor:
    """``X`` with ``Cayley(X) = reachable_basis(U)``: ``A = 2 (U - I)(I + U)^-1``, ``X`` = strict
    lower triangle of ``A`` (then ``X - X^T = A``). Checks the round trip and cond(I + U) < 1e6 and
    raises an error naming ``where`` (layer/head) otherwise. ``U``: (d, d)."""
    U = reachable_basis(U)
    eye = torch.eye(U.shape[-1], dtype=U.dtype, device=U.device)
    cond = float(torch.linalg.cond(eye + U))
    if not cond < 1e6:
        raise FwError(
            f'inverse Cayley {where}: cond(I + U) = {cond:.3g} >= 1e6 (U has an eigenvalue '
            f'near -1); the basis cannot be reached by the Cayley map'
        )
    A = 2 * torch.linalg.solve((eye + U).T, (U - eye).T).T  # 2 (U - I)(I + U)^-1
    X = torch.tril(A, diagonal=-1)
    err = float((cayley(X) - U).abs().max())
    # the round trip loses about cond(I + U) * eps: 1e-7 in float64 covers cond up to 1e6
    limit = tol if tol is not None else (1e-7 if U.dtype == torch.float64 else 1e-4)
    if not err <= limit:
        raise FwError(
            f'inverse Cayley {where}: round trip error {err:.3g} > {limit:g} '
            f'(cond(I + U) = {cond:.3g})'
        )
    return X


def orthogonality_error(U: torch.Tensor) -> float:
    """max |U^T U - I| over a batch of (..., d, d) matrices."""
    eye = torch.eye(U.shape[-1], dtype=U.dtype, device=U.device)
    return float((U.transpose(-1, -2) @ U - eye).abs().max())
