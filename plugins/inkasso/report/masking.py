"""Masking of national ids in the report: the project's one ``mask_text`` (``inkasso.masking``)."""

from inkasso.masking import mask_text

__all__ = ["mask_text"]
