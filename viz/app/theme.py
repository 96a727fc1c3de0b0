"""The high-contrast theme for projectors and large fonts (c toggles it): black ground, white text, saturated states."""

from __future__ import annotations

from textual.theme import Theme

HIGH_CONTRAST = Theme(
    name="viz-high-contrast",
    primary="#00BFFF",    # lanes' accents, the playhead
    secondary="#FFFFFF",
    accent="#FFD700",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#1A1A1A",
    success="#00FF00",    # running
    warning="#FFFF00",    # ready
    error="#FF3030",      # blocks the whole loop
    dark=True,
)
