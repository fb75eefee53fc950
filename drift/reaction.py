"""What a deployment does about concept drift, as a pure state machine the caller drives.

With ``reaction='retrain'`` it follows River's ``DriftRetrainingClassifier``: a warning starts a
background model, confirmed drift swaps it in, and a warning that clears without drift drops it. The
machine only says what to do; ``online_models.Deployment`` owns the models and does it.

The transitions (``alert_only`` always answers ``NONE``)::

    state       flags of this step                         action            next state
    IDLE        drift                                      RESET_LIVE        IDLE
    IDLE        warning                                    START_BACKGROUND  BACKGROUND
    IDLE        neither                                    NONE              IDLE
    BACKGROUND  drift                                      SWAP_BACKGROUND   IDLE
    BACKGROUND  warning                                    NONE              BACKGROUND
    BACKGROUND  neither, ``clear_after_events`` in a row   DROP_BACKGROUND   IDLE
    BACKGROUND  neither, fewer in a row                    NONE              BACKGROUND

``RESET_LIVE`` is River's behaviour when drift comes with no warning before it: a fresh clone of the
model replaces the live one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

__all__ = ["Reaction", "ReactionAction", "ReactionMachine", "ReactionState"]

Reaction = Literal["alert_only", "retrain"]


class ReactionAction(StrEnum):
    """What the caller should do after one error was observed."""

    NONE = "none"
    START_BACKGROUND = "start_background"
    """Clone the live model into a background model and train it on the following labels."""
    SWAP_BACKGROUND = "swap_background"
    """Make the background model live (a new model version, reason ``drift_swap``)."""
    DROP_BACKGROUND = "drop_background"
    """Discard the background model: the warning was a false start."""
    RESET_LIVE = "reset_live"
    """Drift with no background model trained: replace the live model with a fresh clone."""


class ReactionState(StrEnum):
    """Whether a background model is being trained."""

    IDLE = "idle"
    BACKGROUND = "background"


class ReactionMachine:
    """Turns concept-drift flags into :class:`ReactionAction` values, one step per observed error.

    >>> machine = ReactionMachine("retrain")
    >>> steps = [(False, False), (True, False), (True, False), (False, True), (True, False), (False, False)]
    >>> [machine.update(warning=w, drift=d).value for w, d in steps]
    ['none', 'start_background', 'none', 'swap_background', 'start_background', 'drop_background']
    >>> ReactionMachine("alert_only").update(warning=False, drift=True).value
    'none'
    """

    __slots__ = ("_clear_after_events", "_quiet_events", "action", "reaction", "state")

    def __init__(self, reaction: Reaction = "alert_only", *, clear_after_events: int = 1) -> None:
        if reaction not in ("alert_only", "retrain"):
            raise ValueError(f"reaction must be 'alert_only' or 'retrain', got {reaction!r}")
        if clear_after_events < 1:
            raise ValueError(f"clear_after_events must be >= 1, got {clear_after_events}")
        self.reaction: Reaction = reaction
        self._clear_after_events = clear_after_events
        self.state = ReactionState.IDLE
        self.action = ReactionAction.NONE
        self._quiet_events = 0

    @property
    def background_active(self) -> bool:
        """Whether the caller should be training a background model now."""
        return self.state is ReactionState.BACKGROUND

    def reset(self) -> None:
        """Back to idle with no background model (for instance after a manual model change)."""
        self.state = ReactionState.IDLE
        self.action = ReactionAction.NONE
        self._quiet_events = 0

    def update(self, *, warning: bool, drift: bool) -> ReactionAction:
        """Advance one step on the detector's flags; return (and keep in ``action``) what to do."""
        self.action = self._step(warning, drift)
        return self.action

    def _step(self, warning: bool, drift: bool) -> ReactionAction:
        if self.reaction == "alert_only":
            return ReactionAction.NONE
        if self.state is ReactionState.IDLE:
            if drift:
                return ReactionAction.RESET_LIVE
            if warning:
                self.state = ReactionState.BACKGROUND
                self._quiet_events = 0
                return ReactionAction.START_BACKGROUND
            return ReactionAction.NONE
        if drift:
            self.state = ReactionState.IDLE
            return ReactionAction.SWAP_BACKGROUND
        if warning:
            self._quiet_events = 0
            return ReactionAction.NONE
        self._quiet_events += 1
        if self._quiet_events >= self._clear_after_events:
            self.state = ReactionState.IDLE
            return ReactionAction.DROP_BACKGROUND
        return ReactionAction.NONE
