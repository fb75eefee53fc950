"""Per-product constant-elasticity demand curves, learned online from sufficient statistics.

Demand model
    Per product ``p``, a curve ``log q = a_p + b_p · log price``, fitted exactly from exponentially
    weighted sufficient statistics (Welford co-moments of ``log price`` and ``log q``; weights halve
    about every 1,400 rows of the product): recursive least squares in closed form, O(1) per row,
    deterministic, no learning rate.

Pooling
    A product with few rows or little price variation borrows strength: its slope is the posterior
    mean under a normal prior centred on its category's pooled within-product slope (the global one
    without a category; the pool leaves the product out), itself shrunk toward -1 (unit elastic)::

        b_p = (C_xy,p + κ · b_prior) / (C_xx,p + κ),     κ = σ² / τ²,  τ = 1

    ``C`` are the product's centred co-moments and ``σ²`` the pooled residual variance of ``log q``.
    A product's category is the first one it is seen with.

Odd rows
    Rows with a non-positive price or a negative quantity teach nothing. Zero quantities are left out
    of the log fit but counted: ``q̂ = (1 - zero share) · exp(a_p + b_p · log price)``, a median-type
    forecast as log models give. A product never seen gets the geometric mean quantity of all rows.

Features read: ``product_id`` (str), ``price`` (float), and ``category`` (str) and ``cost`` (float)
when present.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tracer.blueprints.base import Features

__all__ = ["ElasticityModel", "ProductEstimate"]

_DECAY = 1.0 - 1.0 / 2000  # weights halve about every 1,400 rows of a product
_PRIOR_ELASTICITY = -1.0
_PRIOR_SPREAD = 1.0  # τ: how far products' elasticities typically are from their pool's
_DEFAULT_RESIDUAL_VARIANCE = 0.25  # σ² of log q until 10 degrees of freedom are pooled
_MAX_EXPONENT = 700.0  # exp() stays finite


@dataclass(slots=True, eq=False)
class _Product:
    """Exponentially weighted co-moments of log price (x) and log quantity (y) for one product."""

    weight: float = 0.0
    mean_x: float = 0.0
    mean_y: float = 0.0
    cxx: float = 0.0
    cxy: float = 0.0
    cyy: float = 0.0
    rows: float = 0.0  # weighted rows with a positive price, zero quantities included
    zero_rows: float = 0.0
    min_price: float = math.inf
    max_price: float = -math.inf
    category: str | None = None
    cost: float | None = None

    def residual(self) -> tuple[float, float]:
        """Residual sum of squares of the product's own fit, and its degrees of freedom."""
        rss = self.cyy - self.cxy * self.cxy / self.cxx if self.cxx > 1e-12 else self.cyy
        return max(rss, 0.0), max(self.weight - 2.0, 0.0)


@dataclass(slots=True, eq=False)
class _Pool:
    """Sums of products' co-moments: the pooled within-product slope and residual variance."""

    sxy: float = 0.0
    sxx: float = 0.0
    rss: float = 0.0
    dof: float = 0.0

    def add(self, product: _Product, sign: float) -> None:
        rss, dof = product.residual()
        self.sxy += sign * product.cxy
        self.sxx += sign * product.cxx
        self.rss += sign * rss
        self.dof += sign * dof


@dataclass(frozen=True, slots=True)
class ProductEstimate:
    """What the model knows about one product's demand."""

    elasticity: float
    standard_error: float
    min_price: float
    max_price: float
    cost: float | None
    reference_price: float = math.nan
    """Geometric mean of the prices the product sold at (weighted like its curve); NaN if never seen."""
    reference_units: float = math.nan
    """Expected units per row at ``reference_price``, zero-sale rows included; NaN if never seen."""
    own_share: float = 0.0
    """How much of ``elasticity`` comes from the product's own price variation, 0..1 (the rest is its pool's)."""


class ElasticityModel:
    """Per-product log-log demand curves from sufficient statistics, pooled by category.

    ``predict_one(x)`` is the quantity expected at the row's price; ``learn_one(x, quantity)`` adds the
    row. See the module docstring for the method.

    >>> model = ElasticityModel()
    >>> for price in [8.0, 9.0, 10.0, 11.0, 12.0] * 20:
    ...     model.learn_one({"product_id": "A", "price": price}, 1000.0 * price**-1.5)
    >>> round(model.estimate("A").elasticity, 3), round(model.predict_one({"product_id": "A", "price": 10.0}), 1)
    (-1.5, 31.6)
    """

    def __init__(self) -> None:
        self.products: dict[str, _Product] = {}
        self.categories: dict[str, _Pool] = {}
        self.pool = _Pool()
        self.log_quantity_sum = 0.0
        self.log_quantity_rows = 0

    def predict_one(self, x: Features) -> float:
        """Expected quantity at the row's price (the geometric mean of all products for a new one)."""
        product = self.products.get(_text(x, "product_id") or "")
        price = _number(x, "price")
        if product is None or product.weight <= 0.0 or price is None or price <= 0.0:
            rows = self.log_quantity_rows
            return math.exp(self.log_quantity_sum / rows) if rows else 0.0
        slope = self._elasticity(product)[0]
        log_q = product.mean_y + slope * (math.log(price) - product.mean_x)
        return (1.0 - product.zero_rows / product.rows) * math.exp(min(log_q, _MAX_EXPONENT))

    def learn_one(self, x: Features, y: float) -> None:
        """Add one row: its price bounds and zero-sale share, and, if it sold, its point on the curve."""
        key, price = _text(x, "product_id"), _number(x, "price")
        if key is None or price is None or price <= 0.0 or not math.isfinite(y) or y < 0.0:
            return
        product = self.products.get(key)
        if product is None:  # not setdefault: that would build a _Product at every row
            product = self.products[key] = _Product()
        if product.category is None and product.weight == 0.0:  # fixed once the product is in a pool
            product.category = _text(x, "category")
        product.min_price, product.max_price = min(product.min_price, price), max(product.max_price, price)
        cost = _number(x, "cost")
        product.cost = cost if cost is not None else product.cost
        product.rows = _DECAY * product.rows + 1.0
        product.zero_rows = _DECAY * product.zero_rows + (y == 0.0)
        if y == 0.0:
            return
        pools = [self.pool] + ([self._category_pool(product.category)] if product.category else [])
        for pool in pools:
            pool.add(product, -1.0)
        log_price, log_q = math.log(price), math.log(y)
        product.weight = _DECAY * product.weight + 1.0
        dx, dy = log_price - product.mean_x, log_q - product.mean_y
        product.mean_x += dx / product.weight
        product.mean_y += dy / product.weight
        product.cxx = _DECAY * product.cxx + dx * (log_price - product.mean_x)
        product.cxy = _DECAY * product.cxy + dx * (log_q - product.mean_y)
        product.cyy = _DECAY * product.cyy + dy * (log_q - product.mean_y)
        for pool in pools:
            pool.add(product, 1.0)
        self.log_quantity_sum += log_q
        self.log_quantity_rows += 1

    def estimate(self, product_id: str, category: str | None = None) -> ProductEstimate:
        """The product's elasticity, its standard error, observed price range, last unit cost, and its
        reference price with the units expected there (a point on its curve: ``q(p) = q_ref · (p /
        p_ref)^b``).

        A product never seen gets its category's (or the global) pooled elasticity and no range.
        """
        product = self.products.get(product_id) or _Product(category=category)
        slope, standard_error = self._elasticity(product)
        reference_price = reference_units = math.nan
        if product.weight > 0.0:
            reference_price = math.exp(product.mean_x)
            sold_share = 1.0 - product.zero_rows / product.rows
            reference_units = sold_share * math.exp(min(product.mean_y, _MAX_EXPONENT))
        own_share = min(max(1.0 - standard_error**2 / _PRIOR_SPREAD**2, 0.0), 1.0)  # C_xx / (C_xx + κ)
        return ProductEstimate(
            slope, standard_error, product.min_price, product.max_price, product.cost,
            reference_price, reference_units, own_share,
        )  # fmt: skip

    # -- internals ------------------------------------------------------------------------------

    def _category_pool(self, category: str) -> _Pool:
        pool = self.categories.get(category)
        if pool is None:
            pool = self.categories[category] = _Pool()
        return pool

    def _elasticity(self, product: _Product) -> tuple[float, float]:
        """Posterior mean and standard deviation of the product's slope (see the module docstring)."""
        pool = self.pool
        variance = max(pool.rss / pool.dof if pool.dof >= 10.0 else _DEFAULT_RESIDUAL_VARIANCE, 1e-6)
        kappa = variance / _PRIOR_SPREAD**2
        prior = (pool.sxy + kappa * _PRIOR_ELASTICITY) / (pool.sxx + kappa)
        category = self.categories.get(product.category) if product.category else None
        own = product.cxy, product.cxx
        if category is not None:
            # A category pool is this product's prior: without the product's own rows.
            prior = (category.sxy - own[0] + kappa * prior) / (category.sxx - own[1] + kappa)
        elif product.weight > 0.0:
            prior = (pool.sxy - own[0] + kappa * _PRIOR_ELASTICITY) / (pool.sxx - own[1] + kappa)
        slope = (own[0] + kappa * prior) / (own[1] + kappa)
        return slope, math.sqrt(variance / (own[1] + kappa))


def _number(x: Features, name: str) -> float | None:
    value = x.get(name)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _text(x: Features, name: str) -> str | None:
    value = x.get(name)
    return value if isinstance(value, str) and value else None
